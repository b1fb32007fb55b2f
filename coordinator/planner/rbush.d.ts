// rbush 4 ships no type declarations; this covers the part of its API the planner uses.
declare module 'rbush' {
  export interface BBox {
    minX: number
    minY: number
    maxX: number
    maxY: number
  }
  export default class RBush<T extends BBox = BBox> {
    constructor(maxEntries?: number)
    insert(item: T): this
    load(items: readonly T[]): this
    remove(item: T, equals?: (a: T, b: T) => boolean): this
    search(bbox: BBox): T[]
    collides(bbox: BBox): boolean
    all(): T[]
    clear(): this
  }
}
