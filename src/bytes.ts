// Bytes <-> UTF-8 text and base64 without Buffer (browsers, Node and edge runtimes alike).

const encoder = new TextEncoder()
const decoder = new TextDecoder()

/** UTF-8 bytes of a string. */
export function utf8Bytes(text: string): Uint8Array {
  return encoder.encode(text)
}

/** A string from UTF-8 bytes (invalid sequences become U+FFFD). */
export function utf8Text(bytes: Uint8Array): string {
  return decoder.decode(bytes)
}

/** Standard base64 (with padding) of bytes. */
export function bytesToBase64(bytes: Uint8Array): string {
  let bin = ''
  // Chunks keep String.fromCharCode's argument list short for large values.
  for (let i = 0; i < bytes.length; i += 0x8000) {
    bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000))
  }
  return btoa(bin)
}

/** Bytes of standard or URL-safe base64, padded or not. @throws Error on anything else. */
export function base64ToBytes(text: string): Uint8Array {
  const std = text.replace(/-/g, '+').replace(/_/g, '/')
  const bin = atob(std + '='.repeat((4 - (std.length % 4)) % 4))
  const out = new Uint8Array(bin.length)
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i)
  return out
}
