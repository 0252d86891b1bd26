// Fault injection against the real programs: the validator and the miners run as separate
// processes, fed predictions through the miners' local API, and the fault hits while they are
// under load. Afterwards the validator's database must hold every prediction a miner had
// accepted exactly once, and every miner must have every prediction answered "success".
//
//   kill   the validator is SIGKILLed under load and restarted on the same database
//   cut    the validator's network (its own namespace, joined by a veth pair) drops every
//          packet for 3 s
//   lossy  1 % packet loss and 200 ± 100 ms of delay for 30 s (tc netem where the kernel has it;
//          otherwise iptables' statistic match drops and a relay in this script delays)
//   disk   the miner's database is on a 16 MiB tmpfs that fills up, then has space again; and a
//          read-only database at start-up is refused with a clear error
//
// cut, lossy and disk need root (namespaces, iptables, mounts); without it they exit 77 (skip).
// usage: node fault_check.mjs <kill|cut|lossy|disk> <validator> <miner> <keygen> <bench>
import { spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, writeFileSync, rmSync, openSync, writeSync,
  closeSync, unlinkSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { harness } from '../support/harness.mjs';

const [scenario, validatorBin, minerBin, keygenBin, benchBin] = process.argv.slice(2);
if (!benchBin || !['kill', 'cut', 'lossy', 'disk'].includes(scenario)) {
  console.error('usage: node fault_check.mjs <kill|cut|lossy|disk> <validator> <miner> <keygen> <bench>');
  process.exit(2);
}
if (scenario !== 'kill' && process.getuid() !== 0) {
  console.log(`SKIP: the ${scenario} fault needs root (network namespaces, iptables, mounts)`);
  process.exit(77);
}

const work = mkdtempSync(join(tmpdir(), `bettensor-fault-${scenario}-`));
let validator = null;
const miners = [];
const h = harness({
  name: scenario,
  totalMs: 240_000,
  onFail: () => {
    for (const c of [validator, ...miners.map((m) => m.proc)].filter(Boolean))
      console.error(`--- last log lines of ${c.label}:\n${c.log.split('\n').slice(-25).join('\n')}`);
  },
});
h.atExit(() => rmSync(work, { recursive: true, force: true }));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const sql = (db, query) =>
  h.run('sqlite3', ['-readonly', db, query]).split('\n').filter((l) => l !== '');

// --- the network: the validator in its own namespace, reached over a veth pair ---------------
const ns = `btfault${process.pid}`;
const hostIf = `btf${process.pid % 100000}h`;
const nsIf = `btf${process.pid % 100000}n`;
const hostIp = '10.213.0.1';
const nsIp = '10.213.0.2';
const inNs = (bin, args) => ['ip', ['netns', 'exec', ns, bin, ...args]];
function makeNamespace() {
  h.run('ip', ['netns', 'add', ns]);
  h.atExit(() => spawnSync('ip', ['netns', 'del', ns]));
  h.run('ip', ['link', 'add', hostIf, 'type', 'veth', 'peer', 'name', nsIf]);
  h.atExit(() => spawnSync('ip', ['link', 'del', hostIf]));
  h.run('ip', ['link', 'set', nsIf, 'netns', ns]);
  h.run('ip', ['addr', 'add', `${hostIp}/30`, 'dev', hostIf]);
  h.run('ip', ['link', 'set', hostIf, 'up']);
  h.run(...inNs('ip', ['addr', 'add', `${nsIp}/30`, 'dev', nsIf]));
  h.run(...inNs('ip', ['link', 'set', nsIf, 'up']));
  h.run(...inNs('ip', ['link', 'set', 'lo', 'up']));
}
// Drops packets inside the namespace, both ways; returns the rule arguments for removal.
const iptables = (args) => h.run(...inNs('iptables', args));
function dropRules(extra) {
  const rules = [['INPUT', '-i', nsIf, ...extra, '-j', 'DROP'], ['OUTPUT', '-o', nsIf, ...extra, '-j', 'DROP']];
  for (const r of rules) iptables(['-A', ...r]);
  return () => rules.forEach((r) => iptables(['-D', ...r]));
}

// --- keys, metagraph, games ----------------------------------------------------------------
const minerCount = scenario === 'disk' ? 1 : 4;
const benchDir = join(work, 'bench');
h.run(benchBin, ['--prepare', `--workdir=${benchDir}`, '--miners=1']);
const metagraph = JSON.parse(readFileSync(join(benchDir, 'metagraph.json'), 'utf8'));
const validatorSs58 = metagraph.neurons[0].hotkey;
for (let i = 0; i < minerCount; ++i) {
  const ss58 = h.run(keygenBin, [`--wallet.path=${join(work, 'wallets')}`, `--wallet.name=miner${i}`])
    .trim().split('\n').pop();
  metagraph.neurons.push({ uid: 10 + i, hotkey: ss58, validator_permit: false, stake: 1,
    axon: { ip: '0.0.0.0', port: 0 } });
}
writeFileSync(join(benchDir, 'metagraph.json'), JSON.stringify(metagraph));
const gameId = JSON.parse(readFileSync(join(benchDir, 'games.json'), 'utf8'))[0].game_id;
const validatorDb = join(work, 'validator.db');
const validatorArgs = readFileSync(join(benchDir, 'validator.args'), 'utf8').trim().split('\n')
  .filter((a) => !a.startsWith('--db.path=') && !a.startsWith('--websocket.connection_timeout'))
  .concat([`--db.path=${validatorDb}`, '--log.level=info']);

// --- programs --------------------------------------------------------------------------------
const networked = scenario === 'cut' || scenario === 'lossy';
let validatorPort = 0;
async function startValidator() {
  const args = [...validatorArgs, `--websocket.port=${validatorPort}`,
    `--websocket.address=${networked ? nsIp : '127.0.0.1'}`];
  validator = networked ? h.start(...inNs(validatorBin, args), 'validator')
    : h.start(validatorBin, args, 'validator');
  validator.stopSignal = 'SIGTERM';
  validatorPort = await h.listeningPort(validator, networked ? nsIp : '127.0.0.1');
}
async function startMiner(i, target, dbPath = join(work, `miner${i}.db`)) {
  const m = miners[i] ?? { i, db: dbPath, accepted: [], apiPort: await h.freePort() };
  miners[i] = m;
  m.proc = h.start(minerBin, [`--wallet.path=${join(work, 'wallets')}`, `--wallet.name=miner${i}`,
    `--validator=ws://${target}@${validatorSs58}`, `--db.path=${m.db}`, `--api.port=${m.apiPort}`,
    '--strategy=none', '--websocket_reconnect_base_interval=0.5',
    '--websocket_max_reconnect_interval=2', '--log_level=info'], `miner${i}`);
  m.proc.stopSignal = 'SIGTERM';
  return m;
}
const status = async (m) => {
  try {
    return JSON.parse((await h.http(m.apiPort, 'GET', '/status')).body);
  } catch {
    return null;
  }
};
const minerMetric = async (m, name) => {
  const r = await h.http(m.apiPort, 'GET', '/metrics');
  const line = r.body.split('\n').find((l) => l.startsWith(`${name} `));
  return line ? Number(line.split(' ')[1]) : NaN;
};
// Posts one prediction to a miner's API; records it when accepted (202).
let serial = 0;
async function predict(m) {
  const body = JSON.stringify({ game_id: gameId, predicted_outcome: 'Lions', wager: 1,
    prediction_id: `${scenario}-${m.i}-${++serial}` });
  const r = await h.http(m.apiPort, 'POST', '/predictions', body,
    { 'content-type': 'application/json' });
  if (r.status === 202) m.accepted.push(JSON.parse(r.body).prediction_id);
  return r;
}
// Each miner posts predictions back to back (or every `gapMs`) until `stop()` is true.
function load(stop, gapMs = 0) {
  return Promise.all(miners.map(async (m) => {
    while (!stop()) {
      const r = await predict(m);
      if (r.status !== 202) h.fail(`miner${m.i} refused a prediction: ${r.status} ${r.body}`);
      if (gapMs) await sleep(gapMs);
    }
  }));
}
const allReady = () => h.untilTrue('every miner connected with the game', async () => {
  for (const m of miners) {
    const s = await status(m);
    if (!s || s.games < 1 || !s.validators[0]?.connected) return false;
  }
  return true;
});
const confirmedCount = async () => {
  let n = 0;
  for (const m of miners) {
    const s = await status(m);
    if (s) n += s.predictions - s.pending;
  }
  return n;
};
const drained = (what, ms) => h.untilTrue(what, async () => {
  for (const m of miners) {
    const s = await status(m);
    if (!s || s.pending !== 0 || s.predictions !== m.accepted.length) return false;
  }
  return true;
}, ms);

// The ledger: the validator's rows against what the miners accepted and were answered.
async function verify() {
  for (const m of miners) m.proc.kill('SIGTERM');
  for (const m of miners) if ((await h.exited(m.proc)) !== 0) h.fail(`miner${m.i} did not exit 0`);
  validator.kill('SIGTERM');
  if ((await h.exited(validator)) !== 0) h.fail('the validator did not exit 0');
  const rows = sql(validatorDb, 'SELECT prediction_id, accepted FROM predictions');
  const stored = new Map(rows.map((r) => r.split('|')));
  const distinct = Number(sql(validatorDb, 'SELECT COUNT(DISTINCT prediction_id) FROM predictions')[0]);
  let accepted = 0;
  for (const m of miners) {
    for (const id of m.accepted) {
      if (stored.get(id) !== '1') h.fail(`prediction ${id} accepted by miner${m.i} is not stored as accepted`);
    }
    accepted += m.accepted.length;
    const answers = sql(m.db, `SELECT prediction_id, accepted FROM answers WHERE validator = '${validatorSs58}'`);
    const bad = answers.filter((a) => !a.endsWith('|1'));
    if (answers.length !== m.accepted.length || bad.length)
      h.fail(`miner${m.i}: ${answers.length} answers for ${m.accepted.length} predictions, ${bad.length} not success`);
  }
  if (rows.length !== accepted || distinct !== rows.length)
    h.fail(`validator rows ${rows.length} (distinct ${distinct}) for ${accepted} accepted predictions`);
  return accepted;
}

// --- the scenarios ---------------------------------------------------------------------------
if (networked) makeNamespace();
const report = {};
if (scenario === 'kill') {
  await startValidator();
  for (let i = 0; i < minerCount; ++i) await startMiner(i, `127.0.0.1:${validatorPort}`);
  await allReady();
  let stop = false;
  const loading = load(() => stop);
  await h.untilTrue('200 confirmations before the kill', async () => (await confirmedCount()) >= 200);
  validator.kill('SIGKILL');
  await h.exited(validator);
  // What the miners hold as confirmed now was confirmed by the process that just died.
  const confirmedBeforeKill = miners.flatMap((m) =>
    sql(m.db, `SELECT prediction_id FROM answers WHERE accepted = 1 AND validator = '${validatorSs58}'`));
  const pendingAtKill = miners.reduce((n, m) => n + m.accepted.length, 0) - confirmedBeforeKill.length;
  await sleep(1000);  // the miners keep accepting predictions while the validator is down
  const restartedAt = Date.now();
  await startValidator();
  await h.untilTrue('load to run on after the restart', async () => (await confirmedCount()) >=
    confirmedBeforeKill.length + 200);
  stop = true;
  await loading;
  await drained('every miner to deliver the rest after reconnecting', 60_000);
  report.recovered_ms = Date.now() - restartedAt;
  const stored = new Set(sql(validatorDb, 'SELECT prediction_id FROM predictions WHERE accepted = 1'));
  const missing = confirmedBeforeKill.filter((id) => !stored.has(id));
  if (missing.length) h.fail(`${missing.length} predictions confirmed before the kill are not stored`);
  report.confirmed_before_kill = confirmedBeforeKill.length;
  report.pending_at_kill = pendingAtKill;
} else if (scenario === 'cut') {
  await startValidator();
  for (let i = 0; i < minerCount; ++i) await startMiner(i, `${nsIp}:${validatorPort}`);
  await allReady();
  let stop = false;
  const loading = load(() => stop, 5);
  await h.untilTrue('confirmations before the cut', async () => (await confirmedCount()) >= 100);
  const restore = dropRules([]);
  const cutAt = miners.reduce((n, m) => n + m.accepted.length, 0);
  // Proof the cut holds: after what was already in flight, nothing is confirmed.
  await sleep(500);
  const early = await confirmedCount();
  await sleep(2500);
  if ((await confirmedCount()) !== early) h.fail('predictions were confirmed during the cut');
  restore();
  const restoredAt = Date.now();
  report.accepted_during_cut = miners.reduce((n, m) => n + m.accepted.length, 0) - cutAt;
  await h.untilTrue('load to run on after the cut', async () => (await confirmedCount()) >= cutAt + 200);
  stop = true;
  await loading;
  await drained('every pending prediction to be delivered after the cut', 60_000);
  report.recovered_ms = Date.now() - restoredAt;
  report.reconnects = 0;
  for (const m of miners) report.reconnects += await minerMetric(m, 'bettensor_miner_reconnects_total');
} else if (scenario === 'lossy') {
  await startValidator();
  // Kernel netem on both ends of the veth where it exists; otherwise loss by iptables in the
  // namespace and delay by a relay in this script.
  const netem = (inside, dev) =>
    spawnSync(inside ? 'ip' : 'tc', [...(inside ? ['netns', 'exec', ns, 'tc'] : []), 'qdisc', 'add',
      'dev', dev, 'root', 'netem', 'loss', '1%', 'delay', '200ms', '100ms']).status === 0;
  let target = `${nsIp}:${validatorPort}`;
  if (netem(true, nsIf) && netem(false, hostIf)) {
    report.method = 'tc netem: 1 % loss and 200 ± 100 ms each way';
  } else {
    dropRules(['-m', 'statistic', '--mode', 'random', '--probability', '0.01']);
    target = `127.0.0.1:${await delayRelay(nsIp, validatorPort)}`;
    report.method = 'iptables statistic: 1 % loss each way; relay: 200 ± 100 ms each way, in order';
  }
  for (let i = 0; i < minerCount; ++i) await startMiner(i, target);
  await allReady();
  const started = Date.now();
  await load(() => Date.now() - started > 30_000, 50);
  const endedAt = Date.now();
  await drained('every prediction to be confirmed', 90_000);
  report.drain_ms = Date.now() - endedAt;
  if (!report.method.startsWith('tc')) report.dropped_packets = iptablesDrops();
} else if (scenario === 'disk') {
  const disk = join(work, 'disk');
  mkdirSync(disk);
  h.run('mount', ['-t', 'tmpfs', '-o', 'size=16m', 'tmpfs', disk]);
  h.atExit(() => spawnSync('umount', ['-l', disk]));
  await startValidator();
  await startMiner(0, `127.0.0.1:${validatorPort}`, join(disk, 'miner.db'));
  const m = miners[0];
  await allReady();
  for (let i = 0; i < 50; ++i) await predict(m);
  await drained('the first predictions to be confirmed', 30_000);
  // With the validator away, predictions wait in the outbox; then the disk fills up.
  validator.kill('SIGTERM');
  if ((await h.exited(validator)) !== 0) h.fail('the validator did not exit 0');
  for (let i = 0; i < 30; ++i) await predict(m);
  const filler = join(disk, 'filler');
  const fd = openSync(filler, 'w');
  try {
    for (;;) writeSync(fd, Buffer.alloc(64 * 1024));
  } catch (e) {
    if (e.code !== 'ENOSPC') throw e;
  }
  closeSync(fd);
  // New predictions are refused with the reason (503) once the database cannot grow (SQLite
  // may first reuse room it already has).
  let refused = 0;
  let refusal = '';
  for (let i = 0; i < 400 && refused < 20; ++i) {
    const r = await predict(m);
    if (r.status === 503) {
      refused += 1;
      refusal = JSON.parse(r.body).message;
    } else if (r.status !== 202) h.fail(`unexpected answer while the disk is full: ${r.status} ${r.body}`);
  }
  if (refused === 0) h.fail('no prediction was refused while the disk was full');
  if (!/^Miner database unavailable: .*database or disk is full/.test(refusal))
    h.fail(`unclear refusal: ${refusal}`);
  // The validator returns and confirms the outbox; the miner cannot record the answers yet,
  // keeps them, and stays up.
  await startValidator();
  await h.untilTrue('answers to fail to be recorded while the disk is full', async () =>
    (await minerMetric(m, 'bettensor_miner_storage_errors_total')) > refused);
  const held = await status(m);
  if (!held || held.pending === 0) h.fail('answers were recorded on a full disk');
  if (m.proc.exitCode !== null) h.fail('the miner exited while the disk was full');
  report.refused_while_full = refused;
  report.refusal = refusal;
  report.answers_waiting_for_disk = held.pending;
  unlinkSync(filler);
  for (let i = 0; i < 50; ++i) await predict(m);
  report.storage_errors = await minerMetric(m, 'bettensor_miner_storage_errors_total');
  await drained('every accepted prediction to be delivered once space returned', 60_000);
  // A read-only database at start-up: a clear error and exit 2, not a crash; once writable
  // again the miner starts and the outbox is intact.
  m.proc.kill('SIGTERM');
  if ((await h.exited(m.proc)) !== 0) h.fail('the miner did not exit 0');
  h.run('mount', ['-o', 'remount,ro', disk]);
  const ro = spawnSync(minerBin, [`--wallet.path=${join(work, 'wallets')}`, '--wallet.name=miner0',
    `--validator=ws://127.0.0.1:${validatorPort}@${validatorSs58}`, `--db.path=${m.db}`], { encoding: 'utf8', timeout: 30_000 });
  if (ro.status !== 2 || !/read-only/.test(ro.stderr)) h.fail(`read-only start: exit ${ro.status}: ${ro.stderr}`);
  report.read_only_start = ro.stderr.trim();
  h.run('mount', ['-o', 'remount,rw', disk]);
  await startMiner(0, `127.0.0.1:${validatorPort}`);
  await allReady();
  for (let i = 0; i < 10; ++i) await predict(m);
  await drained('the restarted miner to deliver', 30_000);
}
const total = await verify();
console.log(`fault ${scenario}: ${JSON.stringify({ predictions: total, lost: 0, duplicated: 0, ...report })}`);
process.exit(0);

// --- helpers used above ------------------------------------------------------------------------
function iptablesDrops() {
  const out = spawnSync(...inNs('iptables', ['-L', '-v', '-x', '-n']), { encoding: 'utf8' }).stdout ?? '';
  return out.split('\n').filter((l) => /DROP/.test(l)).reduce((n, l) => n + Number(l.trim().split(/\s+/)[0]), 0);
}

// A TCP relay on 127.0.0.1 that holds every chunk for 100..300 ms (uniform) and forwards the
// chunks of each direction in order: TCP's view of jitter, since a stream cannot reorder.
function delayRelay(host, port) {
  return new Promise((resolve) => {
    const server = createServer((client) => {
      const upstream = connect(port, host);
      const pipe = (from, to) => {
        let last = 0;
        from.on('data', (d) => {
          const at = Math.max(last, Date.now() + 100 + Math.random() * 200);  // 200 ± 100 ms
          last = at;
          setTimeout(() => to.writable && to.write(d), at - Date.now());
        });
        from.on('close', () => setTimeout(() => to.destroy(), Math.max(0, last - Date.now()) + 1));
        from.on('error', () => {});
      };
      pipe(client, upstream);
      pipe(upstream, client);
    });
    server.listen(0, '127.0.0.1', () => resolve(server.address().port));
    h.atExit(() => server.close());
  });
}
