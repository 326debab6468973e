// The browser client's JSDoc types hold: `tsc --checkJs --strict` over web/
// (no build step: the check reads the same files the server embeds).

import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { scenario } from './common/harness.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));

scenario('the client type-checks', { timeoutMs: 120_000 }, async (ctx) => {
    const require = createRequire(import.meta.url);
    const tsc = require.resolve('typescript/bin/tsc');
    const output = await new Promise((resolve, reject) => {
        const child = spawn(process.execPath, [tsc, '-p', path.join(HERE, 'tsconfig.web.json')], {
            stdio: ['ignore', 'pipe', 'pipe'],
        });
        let out = '';
        child.stdout.on('data', (c) => { out += c; });
        child.stderr.on('data', (c) => { out += c; });
        child.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`tsc found problems:\n${out}`))));
        child.on('error', reject);
    });
    ctx.log(`tsc: no problems${output ? `\n${output}` : ''}`);
});
