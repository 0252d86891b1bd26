// Wire compatibility from another language: a Node miner (ws + @polkadot/util-crypto, with its
// own Python-json.dumps canonical writer) authenticates to the real bettensor-validator binary,
// sends predictions, and verifies every signed frame it gets back with polkadot-js.
// Usage: node validator_wire.mjs <path to bettensor-validator>
import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(join(here, 'package.json'));
let WebSocket, utilCrypto, util;
try {
  WebSocket = require('ws');
  utilCrypto = require('@polkadot/util-crypto');
  util = require('@polkadot/util');
} catch (e) {
  console.error(`npm packages missing: run "npm ci" in ${here} (${e.message})`);
  process.exit(1);
}
const { cryptoWaitReady, sr25519PairFromSeed, sr25519Sign, sr25519Verify, encodeAddress, randomAsU8a } = utilCrypto;
const { u8aToHex, stringToU8a } = util;

// --- Python json.dumps(obj, sort_keys=True), written independently of the C++ code -------------
class PyFloat { constructor(v) { this.v = v; } }
const f = (v) => new PyFloat(v);
function pyFloat(v) {
  if (Number.isInteger(v) && Math.abs(v) < 1e16) return v.toFixed(1);
  let s = String(v);  // JS and Python agree on the shortest digits; fix the exponent form
  s = s.replace(/e([+-])(\d)$/, 'e$10$2');
  return s;
}
function pyString(s) {
  let out = '"';
  for (const ch of s) {
    const cp = ch.codePointAt(0);
    if (ch === '"') out += '\\"';
    else if (ch === '\\') out += '\\\\';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\b') out += '\\b';
    else if (ch === '\f') out += '\\f';
    else if (cp >= 0x20 && cp < 0x7f) out += ch;
    else if (cp > 0xffff) {
      const v = cp - 0x10000;
      out += '\\u' + (0xd800 + (v >> 10)).toString(16).padStart(4, '0') + '\\u' + (0xdc00 + (v & 0x3ff)).toString(16).padStart(4, '0');
    } else out += '\\u' + cp.toString(16).padStart(4, '0');
  }
  return out + '"';
}
function pyDumps(v) {
  if (v === null) return 'null';
  if (v === true) return 'true';
  if (v === false) return 'false';
  if (v instanceof PyFloat) return pyFloat(v.v);
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : pyFloat(v);
  if (typeof v === 'string') return pyString(v);
  if (Array.isArray(v)) return '[' + v.map(pyDumps).join(', ') + ']';
  const keys = Object.keys(v).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return '{' + keys.map((k) => pyString(k) + ': ' + pyDumps(v[k])).join(', ') + '}';
}
// Python's datetime.now(timezone.utc).isoformat()
const isoNow = () => new Date().toISOString().replace('Z', '000+00:00');
const hex = (u8) => u8aToHex(u8).slice(2);

let passed = 0, failed = 0;
const check = (ok, what) => { if (ok) passed++; else { failed++; console.error(`FAIL: ${what}`); } };

await cryptoWaitReady();
const dir = mkdtempSync(join(tmpdir(), 'bettensor-wire-'));
const validatorSeed = randomAsU8a(32);
const validator = sr25519PairFromSeed(validatorSeed);
const validatorSs58 = encodeAddress(validator.publicKey, 42);
const miner = sr25519PairFromSeed(randomAsU8a(32));
const minerSs58 = encodeAddress(miner.publicKey, 42);

// A hotkey file as bittensor_wallet writes it (privateKey omitted: the seed is enough).
mkdirSync(join(dir, 'wallets', 'v', 'hotkeys'), { recursive: true, mode: 0o700 });
writeFileSync(join(dir, 'wallets', 'v', 'hotkeys', 'default'), JSON.stringify({
  accountId: u8aToHex(validator.publicKey), publicKey: u8aToHex(validator.publicKey),
  secretSeed: u8aToHex(validatorSeed), ss58Address: validatorSs58,
}), { mode: 0o600 });
writeFileSync(join(dir, 'metagraph.json'), JSON.stringify({ netuid: 30, block: 1, neurons: [
  { uid: 0, hotkey: validatorSs58, validator_permit: true, stake: 1000.5, axon: { ip: '127.0.0.1', port: 10401 } },
  { uid: 7, hotkey: minerSs58, validator_permit: false, stake: 1.5, axon: { ip: '0.0.0.0', port: 0 } },
] }));
const tomorrow = new Date(Date.now() + 86400e3).toISOString().replace('Z', '000+00:00');
const game = { game_id: 'wire-1', team_a: 'M\u00fcnchen', team_b: 'Dortmund \u26bd', sport: 'soccer', league: 'Bundesliga',
  create_date: isoNow(), last_update_date: isoNow(), event_start_date: tomorrow, active: true, outcome: 'Unfinished',
  team_a_odds: 1.85, team_b_odds: 2.35, tie_odds: 3.4, can_tie: true };
writeFileSync(join(dir, 'games.json'), JSON.stringify([game]));

const child = spawn(process.argv[2], [
  '--websocket.address=127.0.0.1', '--websocket.port=0', `--wallet.path=${join(dir, 'wallets')}`, '--wallet.name=v',
  `--metagraph.file=${join(dir, 'metagraph.json')}`, `--games.file=${join(dir, 'games.json')}`,
  `--db.path=${join(dir, 'validator.db')}`, '--threads=2',
], { stdio: ['ignore', 'pipe', 'inherit'] });
const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
const port = await new Promise((resolve, reject) => {
  let out = '';
  const timer = setTimeout(() => reject(new Error('validator did not start within 20 s')), 20000);
  child.stdout.on('data', (chunk) => {
    out += chunk;
    const m = out.match(/listening on 127\.0\.0\.1:(\d+)/);
    if (m) { clearTimeout(timer); resolve(Number(m[1])); }
  });
  child.on('exit', () => reject(new Error(`validator exited early:\n${out}`)));
});

const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`);
const inbox = [];
let waiter = null;
ws.on('message', (data) => { inbox.push(data.toString()); if (waiter) waiter(); });
const nextFrame = () => new Promise((resolve, reject) => {
  const take = () => { if (inbox.length) { waiter = null; clearTimeout(t); resolve(inbox.shift()); } };
  const t = setTimeout(() => reject(new Error('no frame within 10 s')), 10000);
  waiter = take; take();
});
// Checks a frame's signature the way a Python miner does: canonical text of the five fields.
const openFrame = (text) => {
  const e = JSON.parse(text);
  const { signature, ...rest } = e;
  const signed = pyDumps({ type: rest.type, sender: rest.sender, data: rest.data, timestamp: rest.timestamp, nonce: rest.nonce });
  check(e.sender === validatorSs58, `frame ${e.type} from ${e.sender}`);
  check(sr25519Verify(stringToU8a(signed), '0x' + signature, validator.publicKey), `signature of ${e.type} frame`);
  return e;
};
await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); });

const auth = { hotkey: minerSs58, timestamp: isoNow(), nonce: String(Date.now() * 1000 / 1000) + '.5' };
auth.signature = hex(sr25519Sign(stringToU8a(pyDumps(auth)), miner));
ws.send(JSON.stringify(auth));  // Python's default separators do not matter on the wire
const welcome = openFrame(await nextFrame());
check(welcome.type === 'welcome' && welcome.data.uid === 7 && welcome.data.message === 'Connection established', 'welcome frame');
const update = openFrame(await nextFrame());
check(update.type === 'game_update' && update.data.games[0].game_id === 'wire-1', 'current games after welcome');

const count = 20;
for (let i = 0; i < count; i++) {
  const data = { prediction_id: `wire-${i}`, game_id: 'wire-1', miner_uid: '7', prediction_date: isoNow(),
    predicted_outcome: i % 2 ? 'Tie' : 'M\u00fcnchen', predicted_odds: f(i % 2 ? 3.4 : 1.85), team_a: 'M\u00fcnchen',
    team_b: 'Dortmund \u26bd', wager: f(25), team_a_odds: f(1.85), team_b_odds: f(2.35), tie_odds: f(3.4),
    model_name: 'node', confidence_score: f(0.5), outcome: 'Unfinished', payout: f(0) };
  const env = { type: 'prediction', sender: minerSs58, data, timestamp: isoNow(), nonce: `${Date.now()}.${i}` };
  env.signature = hex(sr25519Sign(stringToU8a(pyDumps(env)), miner));
  ws.send(pyDumps(env));  // floats on the wire exactly as Python writes them (25.0)
}
const verdicts = new Map();
while (verdicts.size < count) {
  const e = openFrame(await nextFrame());
  if (e.type === 'confirmation') verdicts.set(e.data.prediction_id, e.data);
}
for (let i = 0; i < count; i++) {
  const v = verdicts.get(`wire-${i}`);
  check(v && v.status === 'success', `prediction wire-${i}: ${v && v.status} ${v && v.message}`);
}
ws.close();
child.kill('SIGTERM');
const end = await exited;
check(end.code === 0, `validator exit after SIGTERM: ${JSON.stringify(end)}`);
rmSync(dir, { recursive: true, force: true });
console.log(`wire compatibility: ${count} predictions from a Node miner`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
