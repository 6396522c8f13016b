// The syntax-error text Go's encoding/json reports for a malformed document (its scanner's
// wording), so /v2/members answers bad JSON exactly like etcd (MEM-4). Validation only: pure, no
// I/O, no decoding.

const EOF_MSG = 'unexpected end of JSON input'
/** Go's encoding/json maxNestingDepth. */
const MAX_DEPTH = 10_000

class SyntaxErr extends Error {}

/** Go's quoteChar: the offending byte in single quotes, escaped like strconv.Quote. */
function quoteChar(s: string, pos: number): string {
  const code = s.charCodeAt(pos)
  // Go looks at one byte: a multi-byte character shows as its first UTF-8 byte read as a rune.
  const b = code < 0x80 ? code : Buffer.from(s.slice(pos, pos + 2), 'utf8')[0]!
  if (b === 0x27) return "'\\''"
  if (b === 0x22) return `'"'`
  const named: Record<number, string> = { 7: '\\a', 8: '\\b', 9: '\\t', 10: '\\n', 11: '\\v', 12: '\\f', 13: '\\r', 0x5c: '\\\\' }
  if (named[b]) return `'${named[b]}'`
  if (b < 0x20 || b === 0x7f) return `'\\x${b.toString(16).padStart(2, '0')}'`
  return `'${String.fromCharCode(b)}'`
}

/**
 * Returns Go's error message for `text` if it is not valid JSON (e.g. `invalid character 'o' in
 * literal null (expecting 'u')`, `unexpected end of JSON input`), or undefined when it is valid.
 */
export function goJsonSyntaxError(text: string): string | undefined {
  let pos = 0
  const n = text.length
  const fail = (context: string): never => {
    throw new SyntaxErr(`invalid character ${quoteChar(text, pos)} ${context}`)
  }
  // At the end of input Go feeds one space to the scanner: inside a literal, number or escape
  // that space is the reported offender; anywhere else the input is just cut short.
  const eof = (context?: string): void => {
    if (pos >= n) throw new SyntaxErr(context ? `invalid character ' ' ${context}` : EOF_MSG)
  }
  const ws = (): void => {
    while (pos < n) {
      const c = text[pos]
      if (c !== ' ' && c !== '\t' && c !== '\r' && c !== '\n') break
      pos++
    }
  }
  const isDigit = (c: string | undefined): boolean => c !== undefined && c >= '0' && c <= '9'
  const digits = (): void => {
    while (isDigit(text[pos])) pos++
  }
  const literal = (word: string): void => {
    for (let i = 1; i < word.length; i++) {
      pos++
      const context = `in literal ${word} (expecting '${word[i]}')`
      eof(context)
      if (text[pos] !== word[i]) fail(context)
    }
    pos++
  }
  const string = (): void => {
    pos++
    for (;;) {
      eof()
      const c = text[pos]!
      if (c === '"') {
        pos++
        return
      }
      if (c === '\\') {
        pos++
        eof('in string escape code')
        const e = text[pos]!
        if (e === 'u') {
          for (let i = 0; i < 4; i++) {
            pos++
            eof('in \\u hexadecimal character escape')
            if (!/[0-9a-fA-F]/.test(text[pos]!)) fail('in \\u hexadecimal character escape')
          }
          pos++
        } else if ('"\\/bfnrt'.includes(e)) pos++
        else fail('in string escape code')
        continue
      }
      if (c.charCodeAt(0) < 0x20) fail('in string literal')
      pos++
    }
  }
  const number = (): void => {
    if (text[pos] === '-') {
      pos++
      eof('in numeric literal')
      if (!isDigit(text[pos])) fail('in numeric literal')
    }
    if (text[pos] === '0') pos++
    else digits()
    if (text[pos] === '.') {
      pos++
      eof('after decimal point in numeric literal')
      if (!isDigit(text[pos])) fail('after decimal point in numeric literal')
      digits()
    }
    if (text[pos] === 'e' || text[pos] === 'E') {
      pos++
      eof('in exponent of numeric literal')
      if (text[pos] === '+' || text[pos] === '-') {
        pos++
        eof('in exponent of numeric literal')
      }
      if (!isDigit(text[pos])) fail('in exponent of numeric literal')
      digits()
    }
  }
  // Nesting is tracked on an explicit stack (no recursion): a body of 40,000 `[` must get Go's
  // answer, not a stack overflow. Go's decoder refuses more than 10,000 levels.
  const OBJ = 0
  const ARR = 1
  const stack: number[] = []
  const open = (kind: number): void => {
    if (stack.length >= MAX_DEPTH) fail('exceeded max depth')
    stack.push(kind)
    pos++
  }
  const value = (): void => {
    for (;;) {
      // At the start of a value.
      eof()
      const c = text[pos]!
      if (c === '{') {
        open(OBJ)
        ws()
        eof()
        if (text[pos] === '}') {
          stack.pop()
          pos++
        } else {
          objectKey()
          continue
        }
      } else if (c === '[') {
        open(ARR)
        ws()
        eof()
        if (text[pos] === ']') {
          stack.pop()
          pos++
        } else {
          continue
        }
      } else if (c === '"') string()
      else if (c === '-' || isDigit(c)) number()
      else if (c === 't') literal('true')
      else if (c === 'f') literal('false')
      else if (c === 'n') literal('null')
      else fail('looking for beginning of value')
      // After a complete value: close containers until one wants another element.
      for (;;) {
        const top = stack[stack.length - 1]
        if (top === undefined) return
        ws()
        eof()
        if (top === OBJ) {
          if (text[pos] === ',') {
            pos++
            ws()
            eof()
            objectKey()
            break
          }
          if (text[pos] === '}') {
            stack.pop()
            pos++
            continue
          }
          fail('after object key:value pair')
        } else {
          if (text[pos] === ',') {
            pos++
            ws()
            break
          }
          if (text[pos] === ']') {
            stack.pop()
            pos++
            continue
          }
          fail('after array element')
        }
      }
    }
  }
  /** An object member up to its value: `"key"` ws `:` ws. */
  const objectKey = (): void => {
    if (text[pos] !== '"') fail('looking for beginning of object key string')
    string()
    ws()
    eof()
    if (text[pos] !== ':') fail('after object key')
    pos++
    ws()
  }
  try {
    ws()
    value()
    ws()
    if (pos < n) fail('after top-level value')
    return undefined
  } catch (e) {
    if (e instanceof SyntaxErr) return e.message
    throw e
  }
}
