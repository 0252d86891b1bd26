// Docker is not available where the tests run, so the Compose stack and the Dockerfile are
// checked against the programs themselves:
// - the setup script runs (outside Docker, under a temporary root) and creates the wallets,
//   metagraph and games the services mount;
// - every service's command line is accepted by its binary (--check-config reads the flags,
//   wallet and files exactly as the service would see them);
// - every published port and every Prometheus target is a port the service configures;
// - every healthcheck URL answers 200 from the real binary started with the service's flags;
// - the Dockerfile's healthcheck and exposed port match the validator, its runtime packages
//   exist in Debian 12, and the files it copies exist.
//
// usage: node compose_check.mjs <repo> <bettensor-validator> <bettensor-miner> <bettensor-keygen>
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const YAML = createRequire(join(here, '..', 'interop', 'package.json'))('yaml');
const [repo, validatorBin, minerBin, keygenBin] = process.argv.slice(2).map((p) => resolve(p));
const bins = { 'bettensor-validator': validatorBin, 'bettensor-miner': minerBin };
const problems = [];
const problem = (m) => problems.push(m);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const portFree = (port) =>
  new Promise((ok) => {
    const s = createServer();
    s.once('error', () => ok(false));
    s.listen(port, '127.0.0.1', () => s.close(() => ok(true)));
  });
async function freePort() {
  for (;;) {
    const p = 20000 + Math.floor(Math.random() * 30000);
    if (await portFree(p)) return p;
  }
}

const compose = YAML.parse(readFileSync(join(repo, 'docker-compose.yml'), 'utf8'), { merge: true });
const root = mkdtempSync(join(tmpdir(), 'bettensor-compose-'));

// 1. The setup service's script, under a temporary root.
const setup = compose.services.setup;
const init = spawnSync('sh', [join(repo, 'deploy', 'compose-init.sh')], {
  env: { ...process.env, BETTENSOR_ROOT: root, PATH: `${dirname(keygenBin)}:${process.env.PATH}` },
  encoding: 'utf8',
});
if (init.status !== 0) problem(`setup script failed: ${init.stderr}${init.stdout}`);
if (setup.command[0] !== 'bettensor-compose-init') problem('setup does not run bettensor-compose-init');
for (const f of ['shared/metagraph.json', 'shared/games.json', 'wallets/validator/validator/hotkeys/default'])
  if (!existsSync(join(root, f))) problem(`setup did not create ${f}`);

// Container paths of a service, mapped under the temporary root.
function hostArgs(name, service) {
  const mounts = (service.volumes ?? []).map((v) => v.split(':')[1]);
  return service.command.slice(1).map((arg) => {
    for (const m of mounts) {
      if (arg.includes(`=${m}`)) {
        const host = m === '/data' ? join(root, 'data', name) : join(root, m);
        mkdirSync(host, { recursive: true });
        return arg.replace(`=${m}`, `=${host}`);
      }
    }
    return arg;
  });
}
const flag = (args, name) => args.find((a) => a.startsWith(`--${name}=`))?.split('=')[1];
const configuredPorts = (args) =>
  ['websocket.port', 'metrics.port', 'api.port'].map((f) => flag(args, f)).filter(Boolean).map(Number);

const ours = Object.entries(compose.services).filter(([, s]) => bins[s.command?.[0]]);
if (ours.length !== 4) problem(`expected a validator and 3 miners, found ${ours.length} services`);
const portsOf = {};
for (const [name, service] of ours) {
  const bin = bins[service.command[0]];
  const args = hostArgs(name, service);
  // 2. The binary accepts the service's flags and files.
  const check = spawnSync(bin, [...args, '--check-config'], { encoding: 'utf8' });
  if (check.status !== 0 || !check.stdout.includes('configuration OK'))
    problem(`${name}: ${service.command[0]} refuses its flags: ${check.stderr}${check.stdout}`);
  portsOf[name] = configuredPorts(args);
  if (name === 'validator' && !portsOf[name].length) portsOf[name] = [10401];
  // 3. Published ports are configured ones.
  for (const p of service.ports ?? []) {
    const container = Number(String(p).split(':').pop());
    if (!portsOf[name].includes(container))
      problem(`${name}: publishes ${container}, but its flags configure ${portsOf[name]}`);
  }
  // 4. The healthcheck answers from the real binary (ports moved to free ones).
  const url = new URL(service.healthcheck.test.find((t) => t.startsWith('http')));
  const port = Number(url.port);
  if (!portsOf[name].includes(port)) problem(`${name}: healthcheck port ${port} is not configured`);
  const free = await freePort();
  // The probed port moves to a free one, other ports to 0 (any), addresses to loopback.
  const runArgs = args.map((a) => {
    const m = a.match(/^--(websocket|metrics|api)\.(port|address)=(.*)$/);
    if (!m) return a;
    if (m[2] === 'address') return `--${m[1]}.address=127.0.0.1`;
    return `--${m[1]}.port=${Number(m[3]) === port ? free : 0}`;
  });
  if (!runArgs.some((a) => a.startsWith('--websocket.address=')) && name === 'validator')
    runArgs.push('--websocket.address=127.0.0.1');
  if (name === 'validator' && !runArgs.some((a) => a.startsWith('--websocket.port=')))
    runArgs.push(`--websocket.port=${free}`);
  const child = spawn(bin, runArgs, { stdio: 'ignore' });
  let status = 0;
  const until = Date.now() + 20000;
  while (Date.now() < until && child.exitCode === null) {
    try {
      const r = await fetch(`http://127.0.0.1:${free}${url.pathname}`);
      status = r.status;
      if (status === 200) break;
    } catch {}
    await sleep(100);
  }
  child.kill('SIGTERM');
  if (status !== 200) problem(`${name}: healthcheck ${url.pathname} answered ${status || 'nothing'}`);
}

// Prometheus scrapes only services and ports that exist.
const prom = YAML.parse(readFileSync(join(repo, 'monitoring/prometheus/prometheus.yml'), 'utf8'));
for (const job of prom.scrape_configs) {
  for (const target of job.static_configs.flatMap((c) => c.targets)) {
    const [host, port] = target.split(':');
    if (!portsOf[host]?.includes(Number(port))) problem(`prometheus job ${job.job_name}: ${target} is not a configured port`);
  }
}
for (const [name, service] of Object.entries(compose.services)) {
  for (const v of service.volumes ?? []) {
    const src = v.split(':')[0];
    if (src.startsWith('./') && !existsSync(join(repo, src))) problem(`${name}: mounts missing ${src}`);
  }
}
if (compose.services.prometheus.ports[0] !== '9090:9090') problem('prometheus is not published on 9090');
if (compose.services.grafana.ports[0] !== '3000:3000') problem('grafana is not published on 3000');

// 5. The Dockerfile.
const docker = readFileSync(join(repo, 'Dockerfile'), 'utf8');
const expose = [...docker.matchAll(/^EXPOSE\s+(.+)$/gm)].flatMap((m) => m[1].split(/\s+/)).map(Number);
if (!expose.every((p) => portsOf.validator.includes(p))) problem(`Dockerfile EXPOSE ${expose} is not the validator's port`);
const health = docker.match(/HEALTHCHECK[\s\S]*?curl -fsS (http\S+)/);
if (!health || new URL(health[1]).pathname !== new URL(compose.services.validator.healthcheck.test.find((t) => t.startsWith('http'))).pathname)
  problem('Dockerfile HEALTHCHECK does not probe the validator health path');
for (const m of docker.matchAll(/^COPY (?!--from)(\S+)/gm))
  if (!existsSync(join(repo, m[1]))) problem(`Dockerfile copies missing ${m[1]}`);
const runtime = docker.split('FROM debian:12-slim')[1] ?? '';
const pkgs = (runtime.match(/--no-install-recommends([\s\S]*?)&&/)?.[1] ?? '').split(/[\s\\]+/).filter(Boolean);
for (const p of pkgs) {
  if (spawnSync('apt-cache', ['show', p], { stdio: 'ignore' }).status !== 0) problem(`Dockerfile: no Debian package ${p}`);
}
// The runtime image has every shared library the programs load.
for (const bin of Object.values(bins)) {
  const ldd = spawnSync('ldd', [bin], { encoding: 'utf8' }).stdout;
  for (const lib of ldd.matchAll(/=> (\S+)/g)) {
    const owner = spawnSync('dpkg', ['-S', lib[1]], { encoding: 'utf8' }).stdout.split(':')[0];
    // The base image has these; sanitizer runtimes only appear in instrumented test builds.
    const base = ['libc6', 'libgcc-s1', 'libstdc++6', 'zlib1g', 'libasan8', 'libubsan1', 'libtsan2'];
    if (owner && !base.includes(owner) && !pkgs.includes(owner)) problem(`Dockerfile runtime lacks ${owner} (${lib[1]})`);
  }
}

rmSync(root, { recursive: true, force: true });
if (problems.length) {
  console.error(problems.map((p) => `FAIL: ${p}`).join('\n'));
  process.exit(1);
}
console.log(`OK: ${ours.length} services accept their flags, ports and healthchecks match, ${pkgs.length} runtime packages exist`);
