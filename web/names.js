// The naming rules of docs/protocol.md ("Names"), checked in the browser so
// a person learns about a bad name before anything is sent. The server
// checks again; what it says wins. No DOM code here.

export const ROOM_MAX_CHARS = 64;
export const NICKNAME_MAX_CHARS = 32;
const RESERVED_ROOMS = ['assets', 'ws', 'healthz', 'privacy', 'metrics'];

/**
 * Why a name was refused; the UI turns this into a sentence.
 * @typedef {'empty'|'too-long'|'bad-character'|'leading-dot'|'reserved'} NameProblem
 */

/**
 * @typedef {object} NameCheck
 * @property {string} name           the normalised name
 * @property {NameProblem|null} problem null if the name is fine
 */

/**
 * Normalises (trim, NFC, lower case) and checks a room name.
 * @param {string} raw
 * @returns {NameCheck}
 */
export function checkRoomName(raw) {
    const name = raw.trim().normalize('NFC').toLowerCase().normalize('NFC');
    /** @type {NameProblem|null} */
    let problem = null;
    if (name.length === 0) problem = 'empty';
    else if ([...name].length > ROOM_MAX_CHARS) problem = 'too-long';
    else if (!/^[\p{Alphabetic}\p{N}._-]+$/u.test(name)) problem = 'bad-character';
    else if (name.startsWith('.')) problem = 'leading-dot';
    else if (RESERVED_ROOMS.includes(name)) problem = 'reserved';
    return { name, problem };
}

// Control characters and bidirectional formatting characters, which could
// make a nickname display as something else (same list as the server).
const FORBIDDEN_IN_NICKNAME =
    /[\p{Cc}\u200E\u200F\u202A-\u202E\u2066-\u2069\u061C\uFEFF\u200B\uFFF9-\uFFFB]/u;

/**
 * Normalises (NFC, runs of white space to one space, trimmed) and checks a
 * nickname.
 * @param {string} raw
 * @returns {NameCheck}
 */
export function checkNickname(raw) {
    const name = raw.normalize('NFC').split(/[\s\u0085]+/u).filter(Boolean).join(' ');
    /** @type {NameProblem|null} */
    let problem = null;
    if (name.length === 0) problem = 'empty';
    else if ([...name].length > NICKNAME_MAX_CHARS) problem = 'too-long';
    else if (FORBIDDEN_IN_NICKNAME.test(name)) problem = 'bad-character';
    return { name, problem };
}

// Lower-case letters and digits without look-alikes (no 0/o, 1/l): 32
// symbols, 5 bits each. Lower case because the server lower-cases names.
const ROOM_ALPHABET = 'abcdefghijkmnpqrstuvwxyz23456789';

/**
 * An unguessable room name: 16 random symbols of 5 bits = 80 bits, grouped
 * by hyphens for reading aloud, e.g. `k7dq-m2xa-pv9e-3tnb`.
 * @param {Crypto} [crypto]
 * @returns {string}
 */
export function randomRoomName(crypto = globalThis.crypto) {
    const bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    // 256 is a multiple of 32, so `b % 32` is uniform.
    const symbols = [...bytes].map((b) => ROOM_ALPHABET[b % 32]);
    const groups = [];
    for (let i = 0; i < symbols.length; i += 4) groups.push(symbols.slice(i, i + 4).join(''));
    return groups.join('-');
}

/**
 * A moderator secret: 128 random bits, base64url without padding (22
 * characters). It goes into the URL fragment only.
 * @param {Crypto} [crypto]
 * @returns {string}
 */
export function randomSecret(crypto = globalThis.crypto) {
    const bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    const base64 = btoa(String.fromCharCode(...bytes));
    return base64.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}
