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
    chat: [
        ['path', { d: 'M4 5h16v11H9l-5 4z' }],
    ],
    screen: [
        ['rect', { x: '2', y: '4', width: '20', height: '13', rx: '2' }],
        ['path', { d: 'M8 21h8M12 17v4M12 14V8M9 11l3-3 3 3' }],
    ],
    hand: [
        ['path', { d: 'M8 13V5.5a1.5 1.5 0 0 1 3 0V11M11 10V4a1.5 1.5 0 0 1 3 0v6M14 10V5.5a1.5 1.5 0 0 1 3 0V14a7 7 0 0 1-7 7h-.5a6 6 0 0 1-4.6-2.2L3 15.6a1.5 1.5 0 0 1 2.3-1.9L8 16' }],
    ],
    gear: [
        ['circle', { cx: '12', cy: '12', r: '3' }],
        ['path', { d: 'M12 2v3M12 19v3M2 12h3M19 12h3M4.9 4.9l2.1 2.1M17 17l2.1 2.1M4.9 19.1 7 17M17 7l2.1-2.1' }],
    ],
    lock: [
        ['rect', { x: '4', y: '11', width: '16', height: '10', rx: '2' }],
        ['path', { d: 'M8 11V7a4 4 0 0 1 8 0v4' }],
    ],
    unlock: [
        ['rect', { x: '4', y: '11', width: '16', height: '10', rx: '2' }],
        ['path', { d: 'M8 11V7a4 4 0 0 1 7.5-2' }],
    ],
    key: [
        ['circle', { cx: '7.5', cy: '15.5', r: '4.5' }],
        ['path', { d: 'M10.7 12.3 21 2M16 7l3 3M18 5l2 2' }],
    ],
    grid: [
        ['rect', { x: '3', y: '3', width: '8', height: '8', rx: '1' }],
        ['rect', { x: '13', y: '3', width: '8', height: '8', rx: '1' }],
        ['rect', { x: '3', y: '13', width: '8', height: '8', rx: '1' }],
        ['rect', { x: '13', y: '13', width: '8', height: '8', rx: '1' }],
    ],
    speaker: [
        ['rect', { x: '2', y: '3', width: '20', height: '13', rx: '1' }],
        ['rect', { x: '3', y: '18', width: '5', height: '3', rx: '1' }],
        ['rect', { x: '10', y: '18', width: '5', height: '3', rx: '1' }],
        ['rect', { x: '17', y: '18', width: '4', height: '3', rx: '1' }],
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
