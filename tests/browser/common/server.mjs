// Starts the funkraum binary on free ports with a temporary config and
// reads the address it serves from its first line on stdout.

import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile, access } from 'node:fs/promises';
import { constants } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (tests/browser/common/../../..). */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

const START_TIMEOUT_MS = 20_000;
const STOP_TIMEOUT_MS = 5_000;

/**
 * @typedef {object} RunningServer
 * @property {string} url       e.g. http://127.0.0.1:41234
 * @property {() => string} log the server's stderr so far (for failures)
 * @property {() => Promise<void>} stop
 */

/**
 * @param {{config?: string}} [options] extra TOML appended to the config
 * @returns {Promise<RunningServer>}
 */
export async function startServer(options = {}) {
    const bin = path.resolve(REPO_ROOT, process.env.FUNKRAUM_BIN ?? 'target/debug/funkraum');
    try {
        await access(bin, constants.X_OK);
    } catch {
        throw new Error(`the server binary ${bin} is missing; run \`cargo build\` (or set FUNKRAUM_BIN)`);
    }
    const dir = await mkdtemp(path.join(tmpdir(), 'funkraum-browser-'));
    const configPath = path.join(dir, 'funkraum.toml');
    await writeFile(configPath, [
        '[http]',
        'listen = "127.0.0.1:0"',
        '[media]',
        'port = 0',
        '[log]',
        'level = "info"',
        options.config ?? '',
    ].join('\n'));

    const child = spawn(bin, ['--config', configPath], {
        cwd: REPO_ROOT,
        stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk) => {
        stderr += chunk;
        if (stderr.length > 200_000) stderr = stderr.slice(-100_000);
    });
    const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));

    const stop = async () => {
        if (child.exitCode === null && child.signalCode === null) {
            child.kill('SIGTERM');
            const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
            await exited;
            clearTimeout(timer);
        }
        await rm(dir, { recursive: true, force: true });
    };

    try {
        const url = await new Promise((resolve, reject) => {
            let stdout = '';
            const timer = setTimeout(
                () => reject(new Error(`the server did not print its address within ${START_TIMEOUT_MS} ms`)),
                START_TIMEOUT_MS,
            );
            child.stdout.setEncoding('utf8');
            child.stdout.on('data', (chunk) => {
                stdout += chunk;
                const m = /funkraum serving (http:\/\/\S+)/.exec(stdout);
                if (m) {
                    clearTimeout(timer);
                    resolve(m[1]);
                }
            });
            exited.then(({ code, signal }) => {
                clearTimeout(timer);
                reject(new Error(`the server exited early (code ${code}, signal ${signal}):\n${stderr}`));
            });
        });
        return { url, log: () => stderr, stop };
    } catch (err) {
        await stop();
        throw err;
    }
}
