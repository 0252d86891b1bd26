// The validator's live page and a miner's page in headless Chromium (Debian's, driven by
// puppeteer-core), against the demo's validator and miners:
//   - without the admin token the page and the API answer 401;
//   - signed in, the validator page lists the demo's miners;
//   - a prediction submitted by hand on a miner page shows there as confirmed, and the
//     validator page shows its verdict without a reload;
//   - POST /admin/disconnect removes that miner from the validator page.
// Saves a screenshot of each page into the directory given as the second argument.
//
// usage: node pages_check.mjs <bettensor-demo> <screenshot dir> [chromium]
import {spawn, execFileSync} from "node:child_process";
import {mkdirSync, mkdtempSync, rmSync} from "node:fs";
import {tmpdir} from "node:os";
import {join, resolve} from "node:path";
import {createRequire} from "node:module";

const require = createRequire(new URL("../interop/package.json", import.meta.url));
const puppeteer = require("puppeteer-core");

const [demoBin, shotDir, chromiumArg] = process.argv.slice(2);
if (!demoBin || !shotDir) {
  console.error("usage: node pages_check.mjs <bettensor-demo> <screenshot dir> [chromium]");
  process.exit(2);
}
const chromium = chromiumArg || execFileSync("sh", ["-c", "command -v chromium"]).toString().trim();
const step = (what) => console.log(`-- ${what}`);
const fail = (what) => {
  throw new Error(what);
};
const expect = (ok, what) => {
  if (!ok) fail(what);
  console.log(`ok: ${what}`);
};

// --- the demo: a validator and three miners, long enough for the checks -------------------
const workdir = mkdtempSync(join(tmpdir(), "bettensor-pages-"));
const demo = spawn(demoBin, ["--duration=300", "--miners=3", `--workdir=${workdir}`], {
  stdio: ["ignore", "pipe", "inherit"],
});
let output = "";
const waiters = [];
demo.stdout.on("data", (chunk) => {
  output += chunk.toString();
  for (const w of waiters.slice()) w();
});
const demoExited = new Promise((done) => demo.on("exit", (code, signal) => done({code, signal})));

// Resolves with the first match of `re` in the demo's output (bounded).
function demoSays(re, what, seconds = 30) {
  return new Promise((done, reject) => {
    const check = () => {
      const m = re.exec(output);
      if (!m) return false;
      waiters.splice(waiters.indexOf(check), 1);
      clearTimeout(timer);
      done(m);
      return true;
    };
    const timer = setTimeout(() => {
      waiters.splice(waiters.indexOf(check), 1);
      reject(new Error(`the demo did not print ${what} within ${seconds} s:\n${output}`));
    }, seconds * 1000);
    waiters.push(check);
    check();
  });
}

let browser;
try {
  const live = await demoSays(/live page (http:\/\/127\.0\.0\.1:\d+)\/admin \(admin token ([0-9a-f]+),/,
                              "the validator page");
  const [, validatorBase, token] = live;
  const minerBases = [];
  for (let i = 1; i <= 3; ++i)
    minerBases.push((await demoSays(new RegExp(`miner-${i} +page (http://127\\.0\\.0\\.1:\\d+)/`),
                                    `miner-${i}'s page`))[1]);
  for (let i = 1; i <= 3; ++i)
    await demoSays(new RegExp(`miner-${i} +connected to validator`), `miner-${i} connected`);
  const auth = {Authorization: `Bearer ${token}`};

  step("without the token: 401");
  for (const path of ["/admin", "/admin/connections", "/admin/predictions", "/admin/events"]) {
    const r = await fetch(validatorBase + path);
    expect(r.status === 401, `GET ${path} without the token answers 401 (got ${r.status})`);
    await r.body?.cancel();
  }
  const noToken = await fetch(validatorBase + "/admin/disconnect", {
    method: "POST", headers: {"Content-Type": "application/json"}, body: "{}"});
  expect(noToken.status === 401, `POST /admin/disconnect without the token answers 401`);
  const connections = await (await fetch(validatorBase + "/admin/connections", {headers: auth})).json();
  const miners = connections.connections.map((c) => c.hotkey);
  expect(miners.length === 3, `the API lists the demo's 3 miners`);

  browser = await puppeteer.launch({
    executablePath: chromium,
    headless: true,
    userDataDir: join(workdir, "chromium-profile"),
    // root has no user namespace sandbox here; the pages are the project's own, on loopback
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run"],
  });

  step("validator page: sign in, the miners are listed");
  const vpage = await browser.newPage();
  await vpage.setViewport({width: 1280, height: 900});
  const pageErrors = [];
  vpage.on("pageerror", (e) => pageErrors.push(e.message));
  const signIn = await vpage.goto(validatorBase + "/admin");
  expect(signIn.status() === 401, "the page without a session is the sign-in form (401)");
  await vpage.type("#token", "not the token");
  await Promise.all([vpage.waitForNavigation(), vpage.click("#sign-in")]);
  expect((await vpage.$eval("#message", (e) => e.textContent)) === "Invalid admin token.",
         "a wrong token is refused on the page");
  await vpage.type("#token", token);
  const [signedIn] = await Promise.all([vpage.waitForNavigation(), vpage.click("#sign-in")]);
  expect(signedIn.status() === 200, "the right token opens the page");
  await vpage.waitForFunction(
      (keys) => keys.every((k) => document.querySelector(`#connections tr[data-hotkey="${k}"]`)),
      {timeout: 30000, polling: "mutation"}, miners);
  expect(true, "the validator page lists the 3 miners");
  await vpage.evaluate(() => { window.notReloaded = true; });

  step("miner page: a prediction by hand, confirmed");
  mkdirSync(shotDir, {recursive: true});
  const mpage = await browser.newPage();
  await mpage.setViewport({width: 1280, height: 900});
  mpage.on("pageerror", (e) => pageErrors.push(e.message));
  await mpage.goto(minerBases[0] + "/");
  await mpage.waitForFunction(() => document.querySelectorAll("#game option").length > 0 &&
                                        document.querySelectorAll("#outcome option").length > 0,
                              {timeout: 30000, polling: "mutation"});
  // The last upcoming game and its second team: a pick the demo's strategies do not make.
  const game = await mpage.$eval("#game", (s) => s.options[s.options.length - 1].value);
  await mpage.select("#game", game);
  const outcome = await mpage.$eval("#outcome", (s) => s.options[1].value);
  await mpage.select("#outcome", outcome);
  await mpage.$eval("#wager", (e) => { e.value = ""; });
  await mpage.type("#wager", "7.5");
  await mpage.click("#submit");
  await mpage.waitForSelector("#result[data-prediction-id]", {timeout: 30000});
  const id = await mpage.$eval("#result", (e) => e.dataset.predictionId);
  expect(/^[0-9a-f-]{36}$/.test(id), `the form stored prediction ${id}`);
  await mpage.waitForSelector(
      `#predictions tr[data-prediction-id="${id}"] div[data-status="confirmed"]`, {timeout: 30000});
  expect(true, "the miner page shows it confirmed by the validator");
  await mpage.screenshot({path: resolve(shotDir, "miner-page.png"), fullPage: true});
  // A refused form shows the text POST /predictions gives a model for the same request.
  const api = await (await fetch(minerBases[0] + "/predictions", {
    method: "POST", headers: {"Content-Type": "application/json"},
    body: JSON.stringify({game_id: game, predicted_outcome: outcome, wager: 0})})).json();
  await mpage.$eval("#wager", (e) => { e.value = "0"; });
  await mpage.click("#submit");
  await mpage.waitForSelector("#result.bad", {timeout: 30000});
  const shown = await mpage.$eval("#result", (e) => e.textContent);
  expect(typeof api.message === "string" && shown === api.message,
         `a refused form shows the API's text ("${shown}")`);

  step("validator page: the verdict arrives without a reload");
  await vpage.bringToFront();
  await vpage.waitForSelector(`#verdicts tr[data-prediction-id="${id}"][data-status="success"]`,
                              {timeout: 30000});
  expect(await vpage.evaluate(() => window.notReloaded === true),
         "the verdict appeared on the same page load");

  await vpage.screenshot({path: resolve(shotDir, "validator-page.png"), fullPage: true});
  console.log(`screenshots in ${resolve(shotDir)}`);

  step("disconnect from the admin API: the miner leaves the page");
  const dropped = connections.connections.find((c) => c.uid === 2).hotkey;
  const r = await fetch(validatorBase + "/admin/disconnect", {
    method: "POST", headers: {...auth, "Content-Type": "application/json"},
    body: JSON.stringify({hotkey: dropped, hold_seconds: 600})});
  expect(r.status === 200, `POST /admin/disconnect answers 200 (${await r.text()})`);
  await vpage.waitForFunction(
      (k) => !document.querySelector(`#connections tr[data-hotkey="${k}"]`) &&
             document.querySelectorAll("#connections tr[data-hotkey]").length === 2,
      {timeout: 30000, polling: "mutation"}, dropped).catch(async (e) => {
    const seen = await vpage.evaluate(() => ({
      status: document.getElementById("status").textContent,
      updated: document.getElementById("status").title,
      rows: [...document.querySelectorAll("#connections tr[data-hotkey]")].map((r) => r.dataset.hotkey),
    }));
    fail(`${e.message}: the page shows ${JSON.stringify(seen)} at ${new Date().toISOString()}`);
  });
  expect(true, "the disconnected miner is gone from the validator page, the others stay");
  await demoSays(/miner-2 +lost validator .*Disconnected by the validator's operator/,
                 "miner-2 hearing the operator's reason");
  expect(true, "the miner heard the operator's reason");
  const unknown = await fetch(validatorBase + "/admin/disconnect", {
    method: "POST", headers: {...auth, "Content-Type": "application/json"},
    body: JSON.stringify({hotkey: dropped})});
  expect(unknown.status === 404, "disconnecting it again answers 404 (not connected)");
  expect(pageErrors.length === 0, `no script error on either page ${pageErrors.join("; ")}`);
} finally {
  if (browser) await browser.close();
  demo.kill("SIGINT");
  const killer = setTimeout(() => demo.kill("SIGKILL"), 20000);
  await demoExited;
  clearTimeout(killer);
  rmSync(workdir, {recursive: true, force: true});
}
console.log("browser checks passed");
