/**
 * Area-of-interest queries: which entries lie within radius r of a point. Rebuilt from scratch
 * every tick (positions all change anyway) as a uniform grid in compressed rows: a counting sort by
 * cell puts each grid row's entries in one contiguous run, so a query scans a few runs of packed
 * coordinates with no allocation.
 *
 * Measured against `rbush` 4 (`load()` bulk build of fresh items + bbox `search` + distance
 * filter), medians, Node 20 on 2 shared cores, entities jittering between rounds:
 *
 *   entities / queries / world / radius    grid build  grid query   rbush build  rbush query
 *      100 /   100 /   200² / 1000 (all)     0.002 ms     0.30 µs      0.023 ms     1.07 µs
 *    1,000 /   100 / 1,000² /  100           0.020 ms     0.41 µs      0.347 ms     1.33 µs
 *   10,000 / 1,000 / 3,000² /  100           0.257 ms     0.67 µs     13.0   ms     5.62 µs
 *   10,000 / 1,000 / 3,000² /   50           0.228 ms     0.25 µs      8.3   ms     1.33 µs
 *
 * The grid is 10–50× faster to rebuild and 3–8× faster to query, so it is the one kept.
 *
 * Entries are plain points numbered in the order they are added; what they stand for is the
 * caller's business. `WorldView` adds its own entities and read-only extras (ghosts from
 * neighbouring partitions) merged in id order, so an entry number is a snapshot row number.
 */

export interface InterestGridOptions {
  /** Grid cell edge in world units; about the interest radius works well (default 64). */
  cellSize?: number
  /** Upper bound on cells; sparse, huge extents get coarser cells instead (default 65,536). */
  maxCells?: number
}

export class InterestGrid {
  private readonly baseCell: number
  private readonly maxCells: number
  private n = 0
  private xs = new Float64Array(256)
  private ys = new Float64Array(256)
  // Entries sorted by cell.
  private sx = new Float64Array(256)
  private sy = new Float64Array(256)
  private sid = new Int32Array(256)
  private cellOf = new Int32Array(256)
  private cellStart = new Int32Array(2)
  private result = new Int32Array(256)
  private minX = 0
  private minY = 0
  private inv = 1
  private cols = 0
  private rows = 0

  constructor(options: InterestGridOptions = {}) {
    this.baseCell = options.cellSize ?? 64
    this.maxCells = options.maxCells ?? 65_536
    if (!(this.baseCell > 0)) throw new RangeError('cellSize must be positive')
  }

  /** Entries in the index. */
  get size(): number {
    return this.n
  }

  /** Start a new build: forget all entries. */
  begin(): void {
    this.n = 0
    this.cols = 0
    this.rows = 0
  }

  /** Add an entry at (x, y); returns its number. Call `build()` after the last one. */
  add(x: number, y: number): number {
    if (this.n === this.xs.length) {
      const size = this.n * 2
      const grow = (a: Float64Array): Float64Array<ArrayBuffer> => {
        const b = new Float64Array(size)
        b.set(a)
        return b
      }
      this.xs = grow(this.xs)
      this.ys = grow(this.ys)
      this.sx = new Float64Array(size)
      this.sy = new Float64Array(size)
      this.sid = new Int32Array(size)
      this.cellOf = new Int32Array(size)
      this.result = new Int32Array(size)
    }
    this.xs[this.n] = x
    this.ys[this.n] = y
    return this.n++
  }

  build(): void {
    const n = this.n
    if (n === 0) return
    let minX = Infinity
    let minY = Infinity
    let maxX = -Infinity
    let maxY = -Infinity
    const xs = this.xs
    const ys = this.ys
    for (let i = 0; i < n; i++) {
      const x = xs[i] ?? 0
      const y = ys[i] ?? 0
      if (x < minX) minX = x
      if (x > maxX) maxX = x
      if (y < minY) minY = y
      if (y > maxY) maxY = y
    }
    let cell = this.baseCell
    let cols = Math.floor((maxX - minX) / cell) + 1
    let rows = Math.floor((maxY - minY) / cell) + 1
    if (cols * rows > this.maxCells) {
      cell *= Math.sqrt((cols * rows) / this.maxCells) * 1.01
      cols = Math.floor((maxX - minX) / cell) + 1
      rows = Math.floor((maxY - minY) / cell) + 1
    }
    this.minX = minX
    this.minY = minY
    this.inv = 1 / cell
    this.cols = cols
    this.rows = rows
    const cells = cols * rows
    if (this.cellStart.length < cells + 1) this.cellStart = new Int32Array(cells + 1)
    const start = this.cellStart
    start.fill(0, 0, cells + 1)
    const inv = this.inv
    const cellOf = this.cellOf
    for (let i = 0; i < n; i++) {
      const c = Math.floor(((ys[i] ?? 0) - minY) * inv) * cols + Math.floor(((xs[i] ?? 0) - minX) * inv)
      cellOf[i] = c
      start[c + 1] = (start[c + 1] ?? 0) + 1
    }
    for (let c = 0; c < cells; c++) start[c + 1] = (start[c + 1] ?? 0) + (start[c] ?? 0)
    // Place entries; `start[c]` walks forward while filling and is restored afterwards.
    for (let i = 0; i < n; i++) {
      const c = cellOf[i] ?? 0
      const k = start[c] ?? 0
      start[c] = k + 1
      this.sx[k] = xs[i] ?? 0
      this.sy[k] = ys[i] ?? 0
      this.sid[k] = i
    }
    for (let c = cells; c > 0; c--) start[c] = start[c - 1] ?? 0
    start[0] = 0
  }

  /**
   * Entry numbers within distance `r` (inclusive) of (x, y), grouped by cell (not sorted). The
   * view is reused by the next query.
   */
  query(x: number, y: number, r: number): Int32Array {
    if (this.n === 0 || this.cols === 0) return this.result.subarray(0, 0)
    const inv = this.inv
    // The cell range only has to cover the circle; a little slack keeps float rounding on the
    // boundary from excluding a point the exact distance test would include.
    const pad = r * (1 + 1e-9) + 1e-9
    const cx0 = Math.max(0, Math.floor((x - pad - this.minX) * inv))
    const cx1 = Math.min(this.cols - 1, Math.floor((x + pad - this.minX) * inv))
    const cy0 = Math.max(0, Math.floor((y - pad - this.minY) * inv))
    const cy1 = Math.min(this.rows - 1, Math.floor((y + pad - this.minY) * inv))
    let count = 0
    if (cx0 > cx1 || cy0 > cy1) return this.result.subarray(0, 0)
    const r2 = r * r
    const start = this.cellStart
    const sx = this.sx
    const sy = this.sy
    const sid = this.sid
    const out = this.result
    for (let cy = cy0; cy <= cy1; cy++) {
      const row = cy * this.cols
      const end = start[row + cx1 + 1] ?? 0
      for (let k = start[row + cx0] ?? 0; k < end; k++) {
        const dx = (sx[k] ?? 0) - x
        const dy = (sy[k] ?? 0) - y
        if (dx * dx + dy * dy <= r2) out[count++] = sid[k] ?? 0
      }
    }
    return out.subarray(0, count)
  }
}
