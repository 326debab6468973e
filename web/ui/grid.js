// Tile layout: the column count that makes tiles largest in the space there
// is, for n tiles of (roughly) 16:9. Sizes go in through the CSSOM, which
// the Content-Security-Policy allows (inline style attributes it does not).

const ASPECT = 16 / 9;
/** Gap between tiles in px; matches `.tiles { gap }` in style.css. */
const GAP = 8;
/** Below this width (px) tiles stop shrinking and the stage scrolls. */
const MIN_TILE_WIDTH = 160;

/**
 * The best column count and tile width for n tiles in width × height.
 * @param {number} n
 * @param {number} width
 * @param {number} height
 * @returns {{columns: number, tileWidth: number}}
 */
export function bestGrid(n, width, height) {
    let best = { columns: 1, tileWidth: 0 };
    for (let columns = 1; columns <= Math.max(1, n); columns += 1) {
        const rows = Math.ceil(n / columns);
        const w = (width - GAP * (columns - 1)) / columns;
        const hFit = ((height - GAP * (rows - 1)) / rows) * ASPECT;
        const tileWidth = Math.max(0, Math.min(w, hFit));
        if (tileWidth > best.tileWidth) best = { columns, tileWidth };
    }
    return best;
}

/**
 * @param {HTMLElement} container the `.tiles` element
 * @param {number} n number of tiles
 */
export function layoutGrid(container, n) {
    const { width, height } = container.getBoundingClientRect();
    if (width === 0 || height === 0 || n === 0) return;
    let { columns, tileWidth } = bestGrid(n, width, height);
    if (tileWidth < MIN_TILE_WIDTH) {
        // Too many to fit: keep tiles readable and let the stage scroll
        // vertically (never horizontally).
        columns = Math.max(1, Math.floor((width + GAP) / (MIN_TILE_WIDTH + GAP)));
        tileWidth = (width - GAP * (columns - 1)) / columns;
    }
    container.style.setProperty('--tile-width', `${Math.floor(tileWidth)}px`);
    container.style.setProperty('--columns', String(columns));
}
