// Cross-checks our sr25519 and SS58 with polkadot-js (@polkadot/util-crypto, which signs with
// @scure/sr25519): signatures made by each side must verify on the other, key derivation from
// a mini secret and SS58 encoding must agree, and a tampered signature must fail on both sides.
// Usage: node crosscheck.mjs <path to bettensor-interop> <count>
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
let utilCrypto, util;
try {
  const require = createRequire(join(here, 'package.json'));
  utilCrypto = require('@polkadot/util-crypto');
  util = require('@polkadot/util');
} catch (e) {
  console.error(`polkadot-js is not installed: run "npm ci" in ${here} (${e.message})`);
  process.exit(1);
}
const { cryptoWaitReady, sr25519PairFromSeed, sr25519Sign, sr25519Verify, encodeAddress, randomAsU8a } = utilCrypto;
const { u8aToHex, hexToU8a, stringToU8a } = util;

const [tool, countArg] = process.argv.slice(2);
const count = Number(countArg ?? 100);
await cryptoWaitReady();

let passed = 0;
let failed = 0;
const check = (ok, what) => {
  if (ok) passed++;
  else { failed++; console.error(`FAIL: ${what}`); }
};
const hex = (u8) => u8aToHex(u8).slice(2);
const safeVerify = (msg, sig, pub) => { try { return sr25519Verify(msg, sig, pub); } catch { return false; } };

// 1. Ours -> polkadot-js.
const ours = JSON.parse(execFileSync(tool, ['sign', String(count)], { encoding: 'utf8' }));
check(ours.length === count, `expected ${count} signatures from our tool`);
for (const [i, s] of ours.entries()) {
  const msg = hexToU8a('0x' + s.message_hex);
  const sig = hexToU8a('0x' + s.signature_hex);
  const pub = hexToU8a('0x' + s.public_key_hex);
  check(safeVerify(msg, sig, pub), `polkadot-js rejects our signature #${i}`);
  const pair = sr25519PairFromSeed(hexToU8a('0x' + s.seed_hex));
  check(hex(pair.publicKey) === s.public_key_hex, `key derivation differs for seed #${i}`);
  check(encodeAddress(pub, 42) === s.ss58, `SS58 differs for key #${i}`);
  const tampered = Uint8Array.from(sig);
  tampered[i % 32] ^= 0x01;
  check(!safeVerify(msg, tampered, pub), `polkadot-js accepts a tampered signature #${i}`);
}

// 2. polkadot-js -> ours.
const theirs = [];
for (let i = 0; i < count; i++) {
  const seed = randomAsU8a(32);
  const pair = sr25519PairFromSeed(seed);
  const text = JSON.stringify({ type: 'prediction', n: i, team: 'M\u00fcnchen \u26bd', wager: 25.5 });
  const msg = i % 2 === 0 ? stringToU8a(text) : randomAsU8a(i % 300);
  const sig = sr25519Sign(msg, pair);
  const entry = {
    seed_hex: hex(seed), public_key_hex: hex(pair.publicKey), ss58: encodeAddress(pair.publicKey, 42),
    message_hex: hex(msg), signature_hex: hex(sig), expect: true,
  };
  theirs.push(entry);
  const tampered = Uint8Array.from(sig);
  tampered[32 + (i % 31)] ^= 0x04;
  theirs.push({ ...entry, signature_hex: hex(tampered), expect: false });
}
const verdicts = JSON.parse(execFileSync(tool, ['verify'], { input: JSON.stringify(theirs), encoding: 'utf8' }));
check(verdicts.length === theirs.length, 'one verdict per signature');
for (const [i, v] of verdicts.entries()) {
  const t = theirs[i];
  check(v.valid === t.expect, `our verdict ${v.valid} != ${t.expect} for polkadot-js signature #${i}`);
  check(v.derived_public_key_hex === t.public_key_hex, `our key derivation differs for seed #${i}`);
  check(v.ss58_decodes_to_key, `our SS58 decoder disagrees on ${t.ss58}`);
}

console.log(`polkadot-js cross-check: ${count} signatures each way`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
