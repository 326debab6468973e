// Picks the language of the client from the browser's preferences. To add a
// language, add its file (same keys as en.js) and one line to LANGUAGES.

/** @typedef {typeof import('./en.js').default} Strings */

/** @type {Record<string, () => Promise<{default: Strings}>>} */
const LANGUAGES = {
    en: () => import('./en.js'),
};

/**
 * The strings of the first supported language in `preferred`, English if
 * none is supported.
 * @param {readonly string[]} [preferred]
 * @returns {Promise<Strings>}
 */
export async function loadStrings(preferred = globalThis.navigator?.languages ?? []) {
    for (const tag of preferred) {
        const base = tag.toLowerCase().split('-')[0];
        const load = LANGUAGES[base];
        if (load) return (await load()).default;
    }
    return (await LANGUAGES.en()).default;
}
