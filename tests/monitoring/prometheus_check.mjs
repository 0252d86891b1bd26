// Proves the monitoring tree against the programs: promtool checks the Prometheus config and
// alert rules, then a real Prometheus (Debian's package, on loopback) scrapes the demo's
// validator and miners while they carry traffic, and every PromQL expression of every Grafana
// panel must return at least one series; every alert rule must evaluate without error and
// every metric name it uses must exist.
//
// usage: node prometheus_check.mjs <bettensor-demo> <monitoring dir>
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const [demoBin, monitoring] = process.argv.slice(2);
if (!demoBin || !monitoring) {
  console.error('usage: node prometheus_check.mjs <bettensor-demo> <monitoring dir>');
  process.exit(2);
}
const deadline = Date.now() + 100_000;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const children = [];
const fail = (msg) => {
  console.error(`FAIL: ${msg}`);
  for (const c of children) c.kill('SIGKILL');
  process.exit(1);
};

const portFree = (port) =>
  new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
async function freeRange(count) {
  for (let attempt = 0; attempt < 50; ++attempt) {
    const base = 20000 + Math.floor(Math.random() * 30000);
    let ok = true;
    for (let i = 0; i < count && ok; ++i) ok = await portFree(base + i);
    if (ok) return base;
  }
  fail('no free port range');
}

// 1. Static checks with promtool.
const promConfig = join(monitoring, 'prometheus', 'prometheus.yml');
const alerts = resolve(monitoring, 'prometheus', 'alerts.yml');
try {
  execFileSync('promtool', ['check', 'config', promConfig], { stdio: 'inherit' });
  execFileSync('promtool', ['check', 'rules', alerts], { stdio: 'inherit' });
} catch {
  fail('promtool rejected the configuration or the rules');
}

// 2. The demo with metrics: validator on base, miners on base+1..3.
const base = await freeRange(4);
const work = mkdtempSync(join(tmpdir(), 'bettensor-prom-'));
let demoOut = '';
const demo = spawn(demoBin, ['--duration=60', `--metrics_port=${base}`], { stdio: ['ignore', 'pipe', 'pipe'] });
children.push(demo);
demo.stdout.on('data', (d) => (demoOut += d));
demo.stderr.on('data', (d) => (demoOut += d));
while (!/miner-3\s+metrics on/.test(demoOut)) {
  if (Date.now() > deadline || demo.exitCode !== null) fail(`demo did not start:\n${demoOut}`);
  await sleep(50);
}

// 3. Prometheus scraping them every second, with the repository's alert rules.
const promPort = await freeRange(1);
const config = join(work, 'prometheus.yml');
writeFileSync(
  config,
  `global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files:
  - ${alerts}
scrape_configs:
  - job_name: validator
    static_configs:
      - targets: ["127.0.0.1:${base}"]
  - job_name: miner
    static_configs:
      - targets: ["127.0.0.1:${base + 1}", "127.0.0.1:${base + 2}", "127.0.0.1:${base + 3}"]
`,
);
let promOut = '';
const prom = spawn(
  'prometheus',
  [`--config.file=${config}`, `--storage.tsdb.path=${join(work, 'data')}`,
   `--web.listen-address=127.0.0.1:${promPort}`, '--log.level=warn'],
  { stdio: ['ignore', 'pipe', 'pipe'] },
);
children.push(prom);
prom.stdout.on('data', (d) => (promOut += d));
prom.stderr.on('data', (d) => (promOut += d));
const api = async (path) => {
  const res = await fetch(`http://127.0.0.1:${promPort}${path}`);
  return res.json();
};
const query = (expr) => api(`/api/v1/query?query=${encodeURIComponent(expr)}`);

for (;;) {
  if (Date.now() > deadline || prom.exitCode !== null) fail(`prometheus did not start:\n${promOut}`);
  try {
    const r = await fetch(`http://127.0.0.1:${promPort}/-/ready`);
    if (r.ok) break;
  } catch {}
  await sleep(100);
}
// Two successful scrapes of all four targets (and the predictions have been answered).
for (;;) {
  if (Date.now() > deadline) fail(`targets not scraped twice:\n${promOut}`);
  const r = await query('count_over_time(up[1m]) >= 2 and up == 1');
  const answered = await query('sum(bettensor_miner_answers_total) > 0');
  if (r.status === 'success' && r.data.result.length === 4 && answered.data?.result.length === 1) break;
  await sleep(250);
}

// 4. Every panel expression returns series.
const problems = [];
let panelQueries = 0;
const dashboards = join(monitoring, 'grafana', 'dashboards');
for (const file of readdirSync(dashboards).filter((f) => f.endsWith('.json'))) {
  const dash = JSON.parse(readFileSync(join(dashboards, file), 'utf8'));
  for (const panel of dash.panels ?? []) {
    for (const target of panel.targets ?? []) {
      const expr = target.expr.replaceAll('$__rate_interval', '1m').replaceAll('$__interval', '15s');
      ++panelQueries;
      const r = await query(expr);
      if (r.status !== 'success') problems.push(`${file} "${panel.title}": ${expr}: ${r.error}`);
      else if (r.data.result.length === 0) problems.push(`${file} "${panel.title}": no series: ${expr}`);
    }
  }
}

// 5. Alert rules: evaluated without error, and every metric they name is exported.
const names = new Set((await api('/api/v1/label/__name__/values')).data);
let ruleCount = 0;
for (;;) {
  const rules = await api('/api/v1/rules');
  const all = rules.data.groups.flatMap((g) => g.rules);
  if (all.length > 0 && all.every((r) => r.lastEvaluation && !r.lastEvaluation.startsWith('0001'))) {
    for (const r of all) {
      ++ruleCount;
      if (r.health !== 'ok') problems.push(`rule ${r.name}: health ${r.health}: ${r.lastError}`);
      for (const m of r.query.match(/\b(bettensor_[a-z_]+|process_[a-z_]+)\b/g) ?? []) {
        if (!names.has(m)) problems.push(`rule ${r.name}: unknown metric ${m}`);
      }
    }
    break;
  }
  if (Date.now() > deadline) fail(`alert rules were never evaluated: ${JSON.stringify(rules)}`);
  await sleep(250);
}

prom.kill('SIGTERM');
demo.kill('SIGTERM');
rmSync(work, { recursive: true, force: true });
if (problems.length) {
  console.error(problems.join('\n'));
  fail(`${problems.length} problems`);
}
console.log(`OK: ${panelQueries} panel queries returned series; ${ruleCount} alert rules evaluated cleanly; ${names.size} metric names scraped`);
