/**
 * Confirmation before every operator action, and a toast with its outcome. An in-page <dialog>
 * rather than `window.confirm`: it matches the page and a browser test can press its buttons.
 */
import type { ActionResult } from '../../core/api/types.ts'
import { byId, h } from './dom.ts'

/** Resolves true when the operator confirms, false on cancel or Escape. */
export function confirmAction(title: string, text: string): Promise<boolean> {
  const dialog = byId<HTMLDialogElement>('confirm')
  // One question at a time: a second click while it is open is not a second confirmation.
  if (dialog.open) return Promise.resolve(false)
  byId('confirm-title').textContent = title
  byId('confirm-text').textContent = text
  dialog.returnValue = ''
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => resolve(dialog.returnValue === 'ok'), { once: true })
    dialog.showModal()
  })
}

export function toast(kind: 'ok' | 'error', text: string): void {
  const box = byId('toasts')
  const item = h('div', { class: `toast ${kind}`, 'data-kind': kind, title: 'click to dismiss' }, text)
  item.addEventListener('click', () => item.remove())
  box.prepend(item)
  // Errors stay longer: they are what an operator must read.
  setTimeout(() => item.remove(), kind === 'error' ? 10_000 : 5_000)
  while (box.children.length > 4) box.lastElementChild?.remove()
}

/**
 * Asks, runs and reports one action; `after` runs on success (a refresh, so the page shows the
 * change at once instead of on the next poll).
 */
export async function runAction(title: string, text: string, action: () => Promise<ActionResult>, after: () => void): Promise<void> {
  if (!(await confirmAction(title, text))) return
  try {
    const result = await action()
    toast('ok', result.message)
    after()
  } catch (err) {
    toast('error', `${title} failed: ${err instanceof Error ? err.message : String(err)}`)
  }
}
