/**
 * A minimal zip (PKWARE APPNOTE) writer and reader: deflate or stored entries,
 * no zip64, no encryption, no spanning — enough for channel bill archives.
 *
 * The writer is deterministic (the caller passes the entry timestamp), so the
 * same records always give the same bytes; tests compare downloads byte for
 * byte. Names are written as GBK without the UTF-8 flag, as Alipay's archives
 * are (Chinese Windows tools expect that), or as UTF-8 with flag bit 11.
 * The reader bounds entry count and inflated size (zip bombs) and checks
 * every CRC-32.
 */
import { crc32, deflateRawSync, inflateRawSync } from 'node:zlib';
import iconv from 'iconv-lite';
import { ProtocolError, ProtocolErrorReason } from './errors';

export const ZIP_ENTRIES_MAX = 64;
export const ZIP_INFLATED_BYTES_MAX = 64 * 1024 * 1024;

const LOCAL_SIGNATURE = 0x04034b50;
const CENTRAL_SIGNATURE = 0x02014b50;
const END_SIGNATURE = 0x06054b50;
const FLAG_UTF8_NAME = 0x0800;
const METHOD_STORED = 0;
const METHOD_DEFLATE = 8;
const VERSION_NEEDED = 20;
const END_RECORD_BYTES = 22;
const COMMENT_BYTES_MAX = 0xffff;

export type ZipNameEncoding = 'gbk' | 'utf8';

export interface ZipEntry {
  readonly name: string;
  readonly data: Buffer;
}

export interface ZipTimestamp {
  readonly year: number;
  readonly month: number;
  readonly day: number;
  readonly hour: number;
  readonly minute: number;
  readonly second: number;
}

export interface ZipWriteOptions {
  readonly modifiedAt: ZipTimestamp;
  readonly nameEncoding: ZipNameEncoding;
}

function fail(message: string): never {
  throw new ProtocolError(ProtocolErrorReason.INVALID_ZIP, message);
}

function dosTime(t: ZipTimestamp): { time: number; date: number } {
  if (t.year < 1980 || t.year > 2107) fail('zip timestamps cover 1980..2107');
  return {
    time: (t.hour << 11) | (t.minute << 5) | Math.floor(t.second / 2),
    date: ((t.year - 1980) << 9) | (t.month << 5) | t.day,
  };
}

export function writeZip(entries: readonly ZipEntry[], options: ZipWriteOptions): Buffer {
  if (entries.length > ZIP_ENTRIES_MAX) fail(`more than ${ZIP_ENTRIES_MAX} entries`);
  const { time, date } = dosTime(options.modifiedAt);
  const flags = options.nameEncoding === 'utf8' ? FLAG_UTF8_NAME : 0;
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const entry of entries) {
    const name =
      options.nameEncoding === 'utf8' ? Buffer.from(entry.name, 'utf8') : iconv.encode(entry.name, 'gbk');
    const compressed = deflateRawSync(entry.data, { level: 9 });
    const crc = crc32(entry.data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(LOCAL_SIGNATURE, 0);
    local.writeUInt16LE(VERSION_NEEDED, 4);
    local.writeUInt16LE(flags, 6);
    local.writeUInt16LE(METHOD_DEFLATE, 8);
    local.writeUInt16LE(time, 10);
    local.writeUInt16LE(date, 12);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(compressed.length, 18);
    local.writeUInt32LE(entry.data.length, 22);
    local.writeUInt16LE(name.length, 26);
    local.writeUInt16LE(0, 28);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(CENTRAL_SIGNATURE, 0);
    central.writeUInt16LE(VERSION_NEEDED, 4);
    central.writeUInt16LE(VERSION_NEEDED, 6);
    central.writeUInt16LE(flags, 8);
    central.writeUInt16LE(METHOD_DEFLATE, 10);
    central.writeUInt16LE(time, 12);
    central.writeUInt16LE(date, 14);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(compressed.length, 20);
    central.writeUInt32LE(entry.data.length, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE(offset, 42);
    locals.push(local, name, compressed);
    centrals.push(central, name);
    offset += local.length + name.length + compressed.length;
  }
  const centralDirectory = Buffer.concat(centrals);
  const end = Buffer.alloc(END_RECORD_BYTES);
  end.writeUInt32LE(END_SIGNATURE, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(centralDirectory.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, centralDirectory, end]);
}

function findEndRecord(zip: Buffer): number {
  const lowest = Math.max(0, zip.length - END_RECORD_BYTES - COMMENT_BYTES_MAX);
  for (let index = zip.length - END_RECORD_BYTES; index >= lowest; index -= 1) {
    if (zip.readUInt32LE(index) === END_SIGNATURE) return index;
  }
  return fail('no end of central directory record');
}

export function readZip(zip: Buffer): ZipEntry[] {
  if (zip.length < END_RECORD_BYTES) fail('too short to be a zip');
  const endIndex = findEndRecord(zip);
  const count = zip.readUInt16LE(endIndex + 10);
  const centralOffset = zip.readUInt32LE(endIndex + 16);
  if (count > ZIP_ENTRIES_MAX) fail(`more than ${ZIP_ENTRIES_MAX} entries`);
  const entries: ZipEntry[] = [];
  let cursor = centralOffset;
  let inflatedTotal = 0;
  for (let index = 0; index < count; index += 1) {
    if (cursor + 46 > endIndex || zip.readUInt32LE(cursor) !== CENTRAL_SIGNATURE)
      fail('bad central directory');
    const flags = zip.readUInt16LE(cursor + 8);
    const method = zip.readUInt16LE(cursor + 10);
    const crc = zip.readUInt32LE(cursor + 16);
    const compressedSize = zip.readUInt32LE(cursor + 20);
    const size = zip.readUInt32LE(cursor + 24);
    const nameLength = zip.readUInt16LE(cursor + 28);
    const extraLength = zip.readUInt16LE(cursor + 30);
    const commentLength = zip.readUInt16LE(cursor + 32);
    const localOffset = zip.readUInt32LE(cursor + 42);
    const nameBytes = zip.subarray(cursor + 46, cursor + 46 + nameLength);
    cursor += 46 + nameLength + extraLength + commentLength;
    if ((flags & 0x0001) !== 0) fail('encrypted entries are not supported');
    inflatedTotal += size;
    if (inflatedTotal > ZIP_INFLATED_BYTES_MAX) fail(`inflated size over ${ZIP_INFLATED_BYTES_MAX} bytes`);
    if (localOffset + 30 > zip.length || zip.readUInt32LE(localOffset) !== LOCAL_SIGNATURE)
      fail('bad local header');
    const dataStart =
      localOffset + 30 + zip.readUInt16LE(localOffset + 26) + zip.readUInt16LE(localOffset + 28);
    const raw = zip.subarray(dataStart, dataStart + compressedSize);
    if (raw.length !== compressedSize) fail('entry data truncated');
    let data: Buffer;
    if (method === METHOD_STORED) data = Buffer.from(raw);
    else if (method === METHOD_DEFLATE) {
      try {
        data = inflateRawSync(raw, { maxOutputLength: Math.max(size, 1) });
      } catch {
        return fail('entry does not inflate to its declared size');
      }
    } else return fail(`compression method ${method} is not supported`);
    if (data.length !== size || crc32(data) !== crc) fail('entry size or CRC-32 mismatch');
    const name = (flags & FLAG_UTF8_NAME) !== 0 ? nameBytes.toString('utf8') : iconv.decode(nameBytes, 'gbk');
    entries.push({ name, data });
  }
  return entries;
}
