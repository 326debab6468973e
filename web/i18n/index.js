// The client's languages. The first supported one in the browser's
// preferences is shown; the switch on every page changes it for this visit
// (kept in memory only: no cookie, no storage). To add a language, add its
// file (same keys as en.js) and one line to LANGUAGES.

/** @typedef {typeof import('./en.js').default} Strings */

/**
 * @type {{code: string, name: string, load: () => Promise<{default: Strings}>}[]}
 * `name` is the language's own name for itself.
 */
export const LANGUAGES = [
    { code: 'de', name: 'Deutsch', load: () => import('./de.js') },
    { code: 'en', name: 'English', load: () => import('./en.js') },
];

/**
 * The code of the first supported language in `preferred`, English if none.
 * @param {readonly string[]} preferred  e.g. navigator.languages
 * @returns {string}
 */
export function chooseLanguage(preferred) {
    for (const tag of preferred) {
        const base = tag.toLowerCase().split('-')[0];
        if (LANGUAGES.some((l) => l.code === base)) return base;
    }
    return 'en';
}

/**
 * The strings of a language (English for an unknown code).
 * @param {string} code
 * @returns {Promise<Strings>}
 */
export async function loadStrings(code) {
    const language = LANGUAGES.find((l) => l.code === code)
        ?? /** @type {typeof LANGUAGES[number]} */ (LANGUAGES.find((l) => l.code === 'en'));
    return (await language.load()).default;
}
