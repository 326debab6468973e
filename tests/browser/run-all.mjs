#!/usr/bin/env node
// Runs every browser scenario (each *.mjs file in this folder but this one)
// one after the other, each in its own process with a time limit, and
// prints a summary. Exits non-zero if any scenario failed.
//
//   node tests/browser/run-all.mjs            all scenarios
//   node tests/browser/run-all.mjs phone      only those whose name contains "phone"

import { spawn } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
/** Each scenario also has its own, shorter limit; this one is the backstop. */
const SCENARIO_TIMEOUT_MS = Number(process.env.FUNKRAUM_SCENARIO_TIMEOUT_MS ?? 300_000);

const filters = process.argv.slice(2);
const files = (await readdir(HERE, { withFileTypes: true }))
    .filter((e) => e.isFile() && e.name.endsWith('.mjs') && e.name !== 'run-all.mjs')
    .map((e) => e.name)
    .filter((name) => filters.length === 0 || filters.some((f) => name.includes(f)))
    .sort();

if (files.length === 0) {
    console.error('no browser scenario found');
    process.exit(1);
}

/**
 * @param {string} file
 * @returns {Promise<{ok: boolean, seconds: number, why: string}>}
 */
function run(file) {
    const started = Date.now();
    return new Promise((resolve) => {
        const child = spawn(process.execPath, [path.join(HERE, file)], {
            stdio: ['ignore', 'inherit', 'inherit'],
        });
        let timedOut = false;
        const timer = setTimeout(() => {
            timedOut = true;
            child.kill('SIGTERM');
            setTimeout(() => child.kill('SIGKILL'), 10_000).unref();
        }, SCENARIO_TIMEOUT_MS);
        child.on('exit', (code, signal) => {
            clearTimeout(timer);
            const seconds = (Date.now() - started) / 1000;
            if (timedOut) resolve({ ok: false, seconds, why: `killed after ${SCENARIO_TIMEOUT_MS} ms` });
            else if (code === 0) resolve({ ok: true, seconds, why: '' });
            else resolve({ ok: false, seconds, why: signal ? `signal ${signal}` : `exit code ${code}` });
        });
        child.on('error', (err) => {
            clearTimeout(timer);
            resolve({ ok: false, seconds: (Date.now() - started) / 1000, why: err.message });
        });
    });
}

/** @type {{file: string, ok: boolean, seconds: number, why: string}[]} */
const results = [];
for (const file of files) {
    console.log(`\n=== ${file}`);
    results.push({ file, ...(await run(file)) });
}

console.log('\n=== browser scenarios');
for (const r of results) {
    const verdict = r.ok ? 'PASS' : 'FAIL';
    console.log(`${verdict} ${r.file} (${r.seconds.toFixed(1)} s)${r.ok ? '' : ` — ${r.why}`}`);
}
const passed = results.filter((r) => r.ok).length;
const failed = results.length - passed;
console.log(`browser: ${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
