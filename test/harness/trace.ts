// Simulation trace: one line per event, a ring of the most recent lines for failure reports, and a
// running hash of every line so that two runs of one seed can be compared cheaply.

export class Trace {
  private ring: string[]
  private pos = 0
  count = 0
  private h1 = 0x811c9dc5
  private h2 = 0x01000193

  constructor(private readonly tail = 40, private readonly verbose = false) {
    this.ring = new Array(tail).fill('')
  }

  log(line: string): void {
    this.ring[this.pos] = line
    this.pos = (this.pos + 1) % this.tail
    this.count++
    let a = this.h1
    let b = this.h2
    for (let i = 0; i < line.length; i++) {
      const c = line.charCodeAt(i)
      a = Math.imul(a ^ c, 0x01000193)
      b = Math.imul(b ^ c, 0x5bd1e995) ^ (b >>> 13)
    }
    this.h1 = Math.imul(a ^ 10, 0x01000193)
    this.h2 = b
    if (this.verbose) console.log(line)
  }

  /** The last `tail` lines, oldest first. */
  lastLines(): string[] {
    const out: string[] = []
    for (let k = 0; k < this.tail; k++) {
      const l = this.ring[(this.pos + k) % this.tail]!
      if (l !== '') out.push(l)
    }
    return out
  }

  /** Hash of every line logged so far. */
  hash(): string {
    return (this.h1 >>> 0).toString(16).padStart(8, '0') + (this.h2 >>> 0).toString(16).padStart(8, '0') + `:${this.count}`
  }
}
