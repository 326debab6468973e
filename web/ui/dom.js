// Small DOM helpers. Text always goes in as text nodes or textContent,
// never as HTML: nicknames and room names come from other people.

/**
 * @typedef {object} Props
 * @property {string} [class]
 * @property {string} [text] textContent
 * @property {Record<string, (e: any) => void>} [on] event listeners
 * @property {Record<string, any>} [props] DOM properties (e.g. muted, value)
 */

/**
 * Creates an element. `attrs` are set as attributes (false/null skip them,
 * true sets them empty); children are nodes or strings (text).
 * @param {string} tag
 * @param {Props & Record<string, any>} [attrs]
 * @param {...(Node|string|null|undefined|false)} children
 * @returns {HTMLElement}
 */
export function h(tag, attrs = {}, ...children) {
    const el = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs)) {
        if (value === undefined || value === null || value === false) continue;
        if (key === 'class') el.className = value;
        else if (key === 'text') el.textContent = value;
        else if (key === 'on') {
            for (const [event, fn] of Object.entries(value)) el.addEventListener(event, fn);
        } else if (key === 'props') {
            Object.assign(el, value);
        } else if (key === 'style') {
            throw new Error('inline style attributes are blocked by the CSP; use classes');
        } else {
            el.setAttribute(key, value === true ? '' : String(value));
        }
    }
    append(el, children);
    return el;
}

/**
 * @param {Element} parent
 * @param {(Node|string|null|undefined|false)[]} children
 */
export function append(parent, children) {
    for (const child of children) {
        if (child === null || child === undefined || child === false) continue;
        parent.append(typeof child === 'string' ? document.createTextNode(child) : child);
    }
}

/**
 * Replaces all children of `parent`.
 * @param {Element} parent
 * @param {...(Node|string|null|undefined|false)} children
 */
export function replace(parent, ...children) {
    parent.replaceChildren();
    append(parent, children);
}

let uniqueCounter = 0;
/**
 * An id unique in this page, for label/aria references.
 * @param {string} prefix
 */
export function uid(prefix) {
    uniqueCounter += 1;
    return `${prefix}-${uniqueCounter}`;
}

const SVG = 'http://www.w3.org/2000/svg';

/** Icon shapes: [element, attributes] drawn on a 24×24 grid with strokes. */
/** @type {Record<string, [string, Record<string, string>][]>} */
const ICONS = {
    mic: [
        ['rect', { x: '9', y: '2', width: '6', height: '12', rx: '3' }],
        ['path', { d: 'M5 11a7 7 0 0 0 14 0M12 18v4M8 22h8' }],
    ],
    camera: [
        ['rect', { x: '2', y: '6', width: '14', height: '12', rx: '2' }],
        ['path', { d: 'M16 10l6-4v12l-6-4z' }],
    ],
    slash: [['path', { d: 'M3 3l18 18' }]],
    people: [
        ['circle', { cx: '9', cy: '8', r: '4' }],
        ['path', { d: 'M2 21c0-4 3-7 7-7s7 3 7 7' }],
        ['circle', { cx: '17', cy: '9', r: '3' }],
        ['path', { d: 'M18 14c2.5.5 4 3 4 6' }],
    ],
    leave: [
        ['path', { d: 'M10 4H5v16h5M14 8l4 4-4 4M18 12H9' }],
    ],
    link: [
        ['path', { d: 'M10 14a4 4 0 0 0 6 0l3-3a4 4 0 0 0-6-6l-1 1' }],
        ['path', { d: 'M14 10a4 4 0 0 0-6 0l-3 3a4 4 0 0 0 6 6l1-1' }],
    ],
};

/**
 * A decorative icon (hidden from assistive technology: the control that
 * holds it carries the text). `off` crosses it out.
 * @param {keyof ICONS} name
 * @param {boolean} [off]
 * @returns {SVGSVGElement}
 */
export function icon(name, off = false) {
    const svg = /** @type {SVGSVGElement} */ (document.createElementNS(SVG, 'svg'));
    svg.setAttribute('viewBox', '0 0 24 24');
    svg.setAttribute('aria-hidden', 'true');
    svg.setAttribute('focusable', 'false');
    svg.setAttribute('class', 'icon');
    const shapes = off ? [...ICONS[name], ...ICONS.slash] : ICONS[name];
    for (const [tag, attrs] of shapes) {
        const el = document.createElementNS(SVG, tag);
        for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
        svg.append(el);
    }
    return svg;
}
