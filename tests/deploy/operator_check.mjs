// The operator files in deploy/ against the programs:
// - each systemd unit passes `systemd-analyze verify` (its ExecStart binary pointed at the one
//   just built, the only line changed), and the INI file it names is accepted by the binary
//   (--config ... --check-config, with /etc/bettensor and /var/lib mapped under a temporary
//   root);
// - each pm2 app of deploy/pm2/ecosystem.config.js is accepted by its binary (its args plus
//   --check-config, with HOME pointing at a temporary wallet directory as ~/.bittensor).
//
// usage: node operator_check.mjs <repo> <bettensor-validator> <bettensor-miner> <bettensor-keygen>
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const [repo, validatorBin, minerBin, keygenBin] = process.argv.slice(2).map((p) => resolve(p));
const bins = { 'bettensor-validator': validatorBin, 'bettensor-miner': minerBin };
const problems = [];
const problem = (m) => problems.push(m);
const root = mkdtempSync(join(tmpdir(), 'bettensor-operator-'));

function keygen(walletPath, name) {
  const r = spawnSync(keygenBin, [`--wallet.path=${walletPath}`, `--wallet.name=${name}`], { encoding: 'utf8' });
  if (r.status !== 0) problem(`keygen ${name}: ${r.stderr}`);
}

function checkConfig(bin, args, env, what) {
  const r = spawnSync(bin, [...args, '--check-config'], { encoding: 'utf8', env, cwd: root });
  if (r.status !== 0 || !r.stdout.includes('configuration OK'))
    problem(`${what}: --check-config failed (exit ${r.status}): ${r.stderr}${r.stdout}`);
  else console.log(`${what}: ${r.stdout.trim()}`);
}

// 1. systemd units.
const unitDir = join(repo, 'deploy', 'systemd');
const units = readdirSync(unitDir).filter((f) => f.endsWith('.service'));
if (units.length !== 2) problem(`expected the validator and miner units, found ${units}`);
const etc = join(root, 'etc', 'bettensor');
mkdirSync(etc, { recursive: true });
for (const unit of units) {
  const name = unit.replace(/\.service$/, '');
  const text = readFileSync(join(unitDir, unit), 'utf8');
  const exec = text.match(/^ExecStart=(\S+) --config=(\S+)$/m);
  if (!exec) {
    problem(`${unit}: ExecStart is not "<binary> --config=<ini>"`);
    continue;
  }
  if (exec[1] !== `/usr/local/bin/${name}`) problem(`${unit}: runs ${exec[1]}`);
  const copy = join(root, unit);
  writeFileSync(copy, text.replace(exec[1], bins[name]));
  const verify = spawnSync('systemd-analyze', ['verify', copy], { encoding: 'utf8' });
  const said = `${verify.stdout}${verify.stderr}`.trim();
  if (verify.status !== 0 || said !== '') problem(`${unit}: systemd-analyze verify: ${said}`);
  else console.log(`${unit}: systemd-analyze verify clean`);
  for (const key of ['NoNewPrivileges=yes', 'ProtectSystem=strict', 'ProtectHome=yes', 'CapabilityBoundingSet=', 'ExecReload=/bin/kill -HUP $MAINPID'])
    if (!text.includes(`\n${key}\n`)) problem(`${unit}: lacks ${key}`);

  // The INI file it names, with its paths under the temporary root.
  const ini = readFileSync(join(unitDir, exec[2].split('/').pop()), 'utf8');
  const state = join(root, 'var', 'lib', name);
  mkdirSync(state, { recursive: true });
  const mapped = ini.replaceAll('/etc/bettensor', etc).replaceAll(`/var/lib/${name}`, state);
  const wallet = mapped.match(/^wallet\.name = (\S+)$/m)?.[1];
  if (!wallet) problem(`${exec[2]}: no wallet.name`);
  keygen(join(etc, 'wallets'), wallet);
  writeFileSync(join(etc, 'admin.token'), 'operator-check-admin-token-0123456789\n');
  const iniCopy = join(root, `${name}.ini`);
  writeFileSync(iniCopy, mapped);
  checkConfig(bins[name], [`--config=${iniCopy}`], process.env, `${unit} with ${exec[2]}`);
}

// 2. pm2.
const ecosystem = createRequire(import.meta.url)(join(repo, 'deploy', 'pm2', 'ecosystem.config.js'));
const home = join(root, 'home');
const names = ecosystem.apps.map((a) => a.name).sort();
if (names.join() !== 'bettensor-miner,bettensor-validator') problem(`pm2 apps: ${names}`);
for (const app of ecosystem.apps) {
  const base = app.script.split('/').pop();
  if (!bins[base]) {
    problem(`pm2 ${app.name}: runs ${app.script}`);
    continue;
  }
  if (app.interpreter !== 'none') problem(`pm2 ${app.name}: interpreter must be 'none' for a binary`);
  const args = Array.isArray(app.args) ? app.args : app.args.split(/\s+/);
  const i = args.indexOf('--wallet.name');
  keygen(join(home, '.bittensor', 'wallets'), i >= 0 ? args[i + 1] : 'default');
  checkConfig(bins[base], args, { ...process.env, HOME: home }, `pm2 ${app.name}`);
}

rmSync(root, { recursive: true, force: true });
if (problems.length) {
  console.error(problems.join('\n'));
  process.exit(1);
}
console.log('OK: systemd units, their INI files and the pm2 apps are accepted');
