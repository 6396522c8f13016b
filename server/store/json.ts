// JSON text as Go's encoding/json writes it (GEN-7), so response bytes match etcd's.
// Pure string work; no I/O.

// Matches a whole escape pair (so an escaped backslash is never re-read) or a character Go escapes
// but JSON.stringify does not.
const GO_FIXUPS = /\\(.)|[<>&\u2028\u2029]/g
// Cheap pre-check (not global, so it keeps no lastIndex state); false positives are harmless.
const MAYBE_FIXUP = /[<>&\u2028\u2029]|\\[bf]/

function fixup(m: string, esc: string | undefined): string {
  if (esc !== undefined) {
    if (esc === 'b') return '\\u0008'
    if (esc === 'f') return '\\u000c'
    return m
  }
  switch (m) {
    case '<': return '\\u003c'
    case '>': return '\\u003e'
    case '&': return '\\u0026'
    case '\u2028': return '\\u2028'
    default: return '\\u2029'
  }
}

/** JSON text (whole tokens) rewritten to Go's escaping, as goJSON does. */
export function goFixups(s: string): string {
  return MAYBE_FIXUP.test(s) ? s.replace(GO_FIXUPS, fixup) : s
}

/**
 * JSON.stringify(value) rewritten to Go's escaping: `<`, `>`, `&`, U+2028, U+2029 become `\u...`
 * escapes and backspace/form feed become `\u0008`/`\u000c`. Compact, no trailing newline.
 */
export function goJSON(value: unknown): string {
  const s = JSON.stringify(value)
  return MAYBE_FIXUP.test(s) ? s.replace(GO_FIXUPS, fixup) : s
}

type Frame =
  | { kind: 'array'; items: readonly unknown[]; i: number }
  | { kind: 'object'; obj: Record<string, unknown>; keys: string[]; i: number; any: boolean }

/**
 * goJSON's text produced a slice at a time and without recursion, for answers too big or too deep
 * for one JSON.stringify call (a recursive listing of a large or deep directory). Takes plain data
 * (objects, arrays, strings, numbers, booleans, null); skips undefined fields as JSON.stringify
 * does. The slices joined equal goJSON(value).
 */
export class GoJSONEncoder {
  private readonly stack: Frame[] = []
  private root: { value: unknown } | undefined
  done = false

  constructor(value: unknown) {
    this.root = { value }
  }

  /** The next piece of text, about `maxChars` long (longer by at most one string); '' once done. */
  next(maxChars: number): string {
    let out = ''
    if (this.root !== undefined) {
      out = this.open(this.root.value)
      this.root = undefined
    }
    const stack = this.stack
    while (stack.length > 0 && out.length < maxChars) {
      const f = stack[stack.length - 1]
      if (f.kind === 'array') {
        if (f.i < f.items.length) {
          const v = f.items[f.i]
          out += (f.i++ > 0 ? ',' : '') + (v === undefined || typeof v === 'function' ? 'null' : this.open(v))
        } else {
          out += ']'
          stack.pop()
        }
        continue
      }
      if (f.i < f.keys.length) {
        const k = f.keys[f.i++]
        const v = f.obj[k]
        if (v === undefined || typeof v === 'function') continue
        out += (f.any ? ',' : '') + JSON.stringify(k) + ':'
        f.any = true
        out += this.open(v)
      } else {
        out += '}'
        stack.pop()
      }
    }
    if (stack.length === 0) this.done = true
    // Slices end between tokens, never inside a string, so the fix-ups see whole escapes.
    return MAYBE_FIXUP.test(out) ? out.replace(GO_FIXUPS, fixup) : out
  }

  /** Text of a scalar, or the opening bracket of a container (whose frame is pushed). */
  private open(v: unknown): string {
    if (v === null || typeof v !== 'object') return JSON.stringify(v) ?? 'null'
    if (Array.isArray(v)) {
      this.stack.push({ kind: 'array', items: v, i: 0 })
      return '['
    }
    const obj = v as Record<string, unknown>
    this.stack.push({ kind: 'object', obj, keys: Object.keys(obj), i: 0, any: false })
    return '{'
  }
}
