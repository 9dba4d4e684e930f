import { open } from 'node:fs/promises';
import { sqlString } from '@finevideo/storage';
import type { ExplorerDb } from './duckdb.js';

/** Where a BYTE_ARRAY cell's bytes lie in its parquet file. */
export interface CellBytes {
  offset: number;
  length: number;
}

/** A reader of the Thrift compact protocol over a buffer: just enough to read a parquet PageHeader. */
class Compact {
  pos = 0;
  constructor(private readonly buf: Buffer) {}
  byte(): number {
    if (this.pos >= this.buf.length) throw new RangeError('page header: past the bytes read');
    return this.buf[this.pos++]!;
  }
  varint(): number {
    let result = 0;
    let shift = 0;
    for (;;) {
      const b = this.byte();
      result += (b & 0x7f) * 2 ** shift;
      if (!(b & 0x80)) return result;
      shift += 7;
    }
  }
  zigzag(): number {
    const n = this.varint();
    return n % 2 ? -(n + 1) / 2 : n / 2;
  }
  skip(type: number): void {
    if (type === 1 || type === 2) return;
    if (type === 3) this.pos++;
    else if (type === 4 || type === 5 || type === 6) this.varint();
    else if (type === 7) this.pos += 8;
    else if (type === 8) this.pos += this.varint();
    else if (type === 9 || type === 10) {
      const head = this.byte();
      const size = head >> 4 === 15 ? this.varint() : head >> 4;
      for (let i = 0; i < size; i++) this.skip(head & 15);
    } else if (type === 11) {
      const size = this.varint();
      if (size) {
        const kinds = this.byte();
        for (let i = 0; i < size; i++) {
          this.skip(kinds >> 4);
          this.skip(kinds & 15);
        }
      }
    } else if (type === 12) this.struct(() => false);
    else throw new RangeError(`page header: unknown thrift type ${type}`);
  }
  /** Reads a struct's fields; `field` handles one (returns true) or leaves it to be skipped. */
  struct(field: (id: number, type: number) => boolean): void {
    let last = 0;
    for (;;) {
      const head = this.byte();
      if (head === 0) return;
      const id = head >> 4 ? last + (head >> 4) : this.zigzag();
      last = id;
      if (!field(id, head & 15)) this.skip(head & 15);
    }
  }
}

interface PageHeader {
  type: number;
  compressedSize: number;
  numValues: number;
  encoding: number;
  headerLength: number;
}

function pageHeader(buf: Buffer): PageHeader {
  const r = new Compact(buf);
  const h = { type: -1, compressedSize: 0, numValues: 0, encoding: -1 };
  r.struct((id, type) => {
    if (id === 1 && type === 5) h.type = r.zigzag();
    else if (id === 3 && type === 5) h.compressedSize = r.zigzag();
    else if (id === 5 && type === 12) {
      r.struct((inner, innerType) => {
        if (inner === 1 && innerType === 5) h.numValues = r.zigzag();
        else if (inner === 2 && innerType === 5) h.encoding = r.zigzag();
        else return false;
        return true;
      });
    } else return false;
    return true;
  });
  return { ...h, headerLength: r.pos };
}

/** Definition levels (bit width 1) of a v1 data page: the RLE / bit-packed hybrid, as many as values. */
function definitionLevels(buf: Buffer, count: number): number[] {
  const levels: number[] = [];
  let pos = 0;
  while (levels.length < count && pos < buf.length) {
    let header = 0;
    let shift = 0;
    for (;;) {
      const b = buf[pos++]!;
      header += (b & 0x7f) * 2 ** shift;
      if (!(b & 0x80)) break;
      shift += 7;
    }
    if (header % 2 === 0) {
      const value = buf[pos++]!;
      for (let i = 0; i < header / 2 && levels.length < count; i++) levels.push(value);
    } else {
      const bytes = (header - 1) / 2;
      for (let i = 0; i < bytes * 8 && levels.length < count; i++) levels.push((buf[pos + (i >> 3)]! >> (i & 7)) & 1);
      pos += bytes;
    }
  }
  return levels;
}

/**
 * The byte range of one row's value of a BYTE_ARRAY column inside the file, when its pages are stored
 * uncompressed and PLAIN-encoded (then a video is served straight out of the shard by offset); undefined
 * otherwise (compressed or dictionary pages: the caller reads the cell through DuckDB instead).
 */
export async function locatePlainCell(db: ExplorerDb, file: string, row: number, column: string): Promise<CellBytes | undefined> {
  const groups = await db.all(`SELECT m.row_group_num_rows AS rows, m.compression, m.data_page_offset, m.dictionary_page_offset, s.repetition_type
    FROM parquet_metadata(${sqlString(file)}) m JOIN parquet_schema(${sqlString(file)}) s ON s.name = m.path_in_schema
    WHERE m.path_in_schema = $1 ORDER BY m.row_group_id`, [column]);
  let first = 0;
  const group = groups.find((g) => {
    if (row < first + Number(g.rows)) return true;
    first += Number(g.rows);
    return false;
  });
  if (!group || String(group.compression) !== 'UNCOMPRESSED' || (group.dictionary_page_offset !== null && Number(group.dictionary_page_offset) > 0)) return undefined;
  const optional = String(group.repetition_type) === 'OPTIONAL';
  const handle = await open(file, 'r');
  try {
    const read = async (at: number, length: number) => {
      const buf = Buffer.alloc(length);
      const { bytesRead } = await handle.read(buf, 0, length, at);
      return buf.subarray(0, bytesRead);
    };
    let pos = Number(group.data_page_offset);
    let skipped = 0;
    const wanted = row - first;
    for (;;) {
      const header = pageHeader(await read(pos, 64 * 1024));
      if (header.type !== 0 || header.encoding !== 0) return undefined;
      const body = pos + header.headerLength;
      if (wanted >= skipped + header.numValues) {
        skipped += header.numValues;
        pos = body + header.compressedSize;
        continue;
      }
      let cursor = body;
      let defined = Array.from({ length: header.numValues }, () => 1);
      if (optional) {
        const levelBytes = (await read(cursor, 4)).readUInt32LE(0);
        defined = definitionLevels(await read(cursor + 4, levelBytes), header.numValues);
        cursor += 4 + levelBytes;
      }
      for (let i = 0; i <= wanted - skipped; i++) {
        if (!defined[i]) {
          if (i === wanted - skipped) return undefined;
          continue;
        }
        const length = (await read(cursor, 4)).readUInt32LE(0);
        if (i === wanted - skipped) return { offset: cursor + 4, length };
        cursor += 4 + length;
      }
      return undefined;
    }
  } finally {
    await handle.close();
  }
}
