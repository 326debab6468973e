// Bits the pages share.

/**
 * Copies this page's link and says whether it worked.
 * @param {import('../i18n/index.js').Strings} t
 * @param {HTMLElement} status where to say it (a live region)
 */
export async function copyLink(t, status) {
    try {
        await navigator.clipboard.writeText(location.href);
        status.textContent = t.linkCopied;
    } catch {
        status.textContent = t.linkNotCopied;
    }
}

/**
 * The sentence for a refusal: our own text for known codes, the server's
 * English text for codes this client does not know yet.
 * @param {import('../i18n/index.js').Strings} t
 * @param {Partial<import('../protocol.js').ServerError>|undefined} error
 * @returns {string}
 */
export function errorText(t, error) {
    const code = error?.code ?? 'client-connection';
    const known = /** @type {Record<string, string>} */ (t.errors)[code];
    if (known) return known;
    return t.unknownError(error?.message ?? code);
}
