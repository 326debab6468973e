// web/protocol.js keeps the signaling connection alive as docs/protocol.md
// says: `ping` every 15 s, `pong` to the server's `ping`, and it gives up
// after 45 s without a word from the server. Runs the client module in
// Node with a fake WebSocket and mocked clocks (a browser would need a
// minute of real time for this).

import { mock } from 'node:test';
import { scenario, assert } from './common/harness.mjs';

/** A WebSocket stand-in that records what the client sends. */
class FakeSocket extends EventTarget {
    static CONNECTING = 0;
    static OPEN = 1;
    static CLOSING = 2;
    static CLOSED = 3;
    /** @type {FakeSocket[]} */
    static all = [];
    /** @param {string} url */
    constructor(url) {
        super();
        this.url = url;
        this.readyState = FakeSocket.CONNECTING;
        /** @type {any[]} */
        this.sent = [];
        /** @type {number|null} */
        this.closedWith = null;
        FakeSocket.all.push(this);
    }
    /** @param {string} data */
    send(data) { this.sent.push(JSON.parse(data)); }
    /** @param {number} code */
    close(code) {
        this.closedWith = code;
        this.readyState = FakeSocket.CLOSED;
    }
    open() {
        this.readyState = FakeSocket.OPEN;
        this.dispatchEvent(new Event('open'));
    }
    /** @param {object} message */
    receive(message) {
        const e = new Event('message');
        Object.defineProperty(e, 'data', { value: JSON.stringify(message) });
        this.dispatchEvent(e);
    }
    /** @param {string} type */
    count(type) { return this.sent.filter((m) => m.type === type).length; }
}

scenario('client keepalive pings and gives up', { timeoutMs: 30_000 }, async (ctx) => {
    // @ts-ignore a stand-in for the browser's WebSocket
    globalThis.WebSocket = FakeSocket;
    mock.timers.enable({ apis: ['setInterval', 'setTimeout', 'Date'], now: 1_000_000 });
    const { Conference, PING_INTERVAL_MS, SILENCE_TIMEOUT_MS } = await import('../../web/protocol.js');
    assert(PING_INTERVAL_MS === 15_000 && SILENCE_TIMEOUT_MS === 45_000, 'the documented intervals');

    // A refused join rejects with the server's error and ends the session.
    const refused = new Conference({ room: 'r', nickname: 'n', url: 'ws://test/ws' });
    const refusal = refused.join();
    const s0 = FakeSocket.all[0];
    s0.open();
    assert(s0.sent[0]?.type === 'join' && s0.sent[0].version === 1 && s0.sent[0].room === 'r',
        `the first message is the join: ${JSON.stringify(s0.sent[0])}`);
    s0.receive({ type: 'error', code: 'room-full', message: 'This room is full (1 participants).', fatal: false });
    const error = await refusal.then(() => null, (e) => e);
    assert(error?.code === 'room-full', `join rejects with the server's code, got ${JSON.stringify(error)}`);
    assert(s0.closedWith === 1000, 'the refused session closes its socket');

    // Keepalive on a connection that has not joined a room is the same.
    const conf = new Conference({ room: 'r', nickname: 'n', url: 'ws://test/ws' });
    /** @type {any} */
    let closed = null;
    conf.addEventListener('closed', (e) => { closed = /** @type {CustomEvent} */ (e).detail; });
    conf.join().catch(() => {});
    const s = FakeSocket.all[1];
    s.open();

    mock.timers.tick(14_999);
    assert(s.count('ping') === 0, 'no ping before 15 s');
    mock.timers.tick(1);
    assert(s.count('ping') === 1, 'a ping at 15 s');
    s.receive({ type: 'pong' });
    s.receive({ type: 'ping' });
    assert(s.count('pong') === 1, 'the server\'s ping is answered with pong');

    // The server keeps quiet from now on (last heard at 15 s).
    mock.timers.tick(30_000);
    assert(s.count('ping') === 3, `pings go on every 15 s (sent ${s.count('ping')})`);
    assert(closed === null, 'still alive 30 s after the last word from the server');
    mock.timers.tick(16_000);
    assert(closed !== null, 'gave up 45 s after the last word from the server');
    assert(closed.code === 4000 && closed.expected === false, `closed with ${JSON.stringify(closed)}`);
    assert(s.closedWith === 1000, 'the socket was closed');
    const pings = s.count('ping');
    mock.timers.tick(60_000);
    assert(s.count('ping') === pings, 'no pings after giving up');
    mock.timers.reset();
    ctx.log('join, refusal, ping/pong and the 45 s give-up behave as documented');
});
