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

/**
 * JSON.stringify(value) rewritten to Go's escaping: `<`, `>`, `&`, U+2028, U+2029 become `\u...`
 * escapes and backspace/form feed become `\u0008`/`\u000c`. Compact, no trailing newline.
 */
export function goJSON(value: unknown): string {
  const s = JSON.stringify(value)
  return MAYBE_FIXUP.test(s) ? s.replace(GO_FIXUPS, fixup) : s
}
