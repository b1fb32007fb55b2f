/** A few DOM helpers: the dashboard has no framework, and these keep its builders short. */

type Attrs = Record<string, string | number | boolean | undefined>

/** An HTML element with attributes (`false`/`undefined` ones left out) and children. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: (Node | string)[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag)
  setAttrs(el, attrs)
  el.append(...children)
  return el
}

const svgNs = 'http://www.w3.org/2000/svg'

export function svg<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Attrs = {}): SVGElementTagNameMap[K] {
  const el = document.createElementNS(svgNs, tag)
  setAttrs(el, attrs)
  return el
}

export function setAttrs(el: Element, attrs: Attrs): void {
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) el.removeAttribute(k)
    else el.setAttribute(k, v === true ? '' : String(v))
  }
}

/** Sets text only when it changed: rewriting equal text still costs layout on big tables. */
export function setText(el: Element, text: string): void {
  if (el.textContent !== text) el.textContent = text
}

export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const el = document.getElementById(id)
  if (!el) throw new Error(`the page has no #${id}`)
  return el as T
}
