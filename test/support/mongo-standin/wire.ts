/**
 * MongoDB wire protocol framing for the stand-in: the 16-byte message header, OP_MSG (kind 0
 * body plus kind 1 document sequences, optional CRC-32C trailer skipped unchecked) and the
 * legacy OP_QUERY / OP_REPLY pair that drivers still use for the very first `hello` of a
 * connection, before they know the server speaks OP_MSG.
 * Reference: https://github.com/mongodb/specifications/blob/master/source/message/OP_MSG.md
 */
import { deserialize, serialize, type Document } from 'bson';

export const OP_REPLY = 1;
export const OP_QUERY = 2004;
export const OP_COMPRESSED = 2012;
export const OP_MSG = 2013;

const HEADER_BYTES = 16;
const CHECKSUM_PRESENT = 1;
const MORE_TO_COME = 1 << 1;

export type Request = Readonly<{
  requestId: number;
  opCode: number;
  /** The command document, with any kind 1 document sequences folded in as array fields. */
  command: Document;
  /** OP_MSG moreToCome: the client expects no reply (unacknowledged writes). */
  noReply: boolean;
}>;

/**
 * Splits a byte stream into whole messages. Returns the messages complete so far and the
 * bytes left over, which belong to the next message.
 */
export function takeMessages(buffer: Buffer): { messages: Buffer[]; rest: Buffer } {
  const messages: Buffer[] = [];
  let offset = 0;
  while (buffer.length - offset >= 4) {
    const length = buffer.readInt32LE(offset);
    if (length < HEADER_BYTES) throw new Error(`invalid message length ${length}`);
    if (buffer.length - offset < length) break;
    messages.push(buffer.subarray(offset, offset + length));
    offset += length;
  }
  return { messages, rest: buffer.subarray(offset) };
}

export function parseRequest(message: Buffer): Request {
  const requestId = message.readInt32LE(4);
  const opCode = message.readInt32LE(12);
  if (opCode === OP_MSG) return { requestId, opCode, ...parseOpMsg(message) };
  if (opCode === OP_QUERY)
    return { requestId, opCode, command: parseOpQuery(message), noReply: false };
  // OP_COMPRESSED never arrives: the stand-in's hello advertises no compressors.
  throw new Error(`unsupported opCode ${opCode}`);
}

function parseOpMsg(message: Buffer): { command: Document; noReply: boolean } {
  const flags = message.readUInt32LE(HEADER_BYTES);
  const end = message.length - (flags & CHECKSUM_PRESENT ? 4 : 0);
  let offset = HEADER_BYTES + 4;
  let body: Document | undefined;
  const sequences: [string, Document[]][] = [];
  while (offset < end) {
    const kind = message[offset++];
    const size = message.readInt32LE(offset);
    if (kind === 0) {
      body = deserialize(message.subarray(offset, offset + size));
      offset += size;
    } else if (kind === 1) {
      const sectionEnd = offset + size;
      const nameEnd = message.indexOf(0, offset + 4);
      const identifier = message.toString('utf8', offset + 4, nameEnd);
      const documents: Document[] = [];
      for (let at = nameEnd + 1; at < sectionEnd;) {
        const docSize = message.readInt32LE(at);
        documents.push(deserialize(message.subarray(at, at + docSize)));
        at += docSize;
      }
      sequences.push([identifier, documents]);
      offset = sectionEnd;
    } else {
      throw new Error(`unknown OP_MSG section kind ${String(kind)}`);
    }
  }
  if (body === undefined) throw new Error('OP_MSG without a body section');
  for (const [identifier, documents] of sequences) body[identifier] = documents;
  return { command: body, noReply: (flags & MORE_TO_COME) !== 0 };
}

/** OP_QUERY on `<db>.$cmd`: flags, collection name, skip, return count, then the command. */
function parseOpQuery(message: Buffer): Document {
  const nameEnd = message.indexOf(0, HEADER_BYTES + 4);
  const namespace = message.toString('utf8', HEADER_BYTES + 4, nameEnd);
  const queryStart = nameEnd + 1 + 8;
  const size = message.readInt32LE(queryStart);
  const query = deserialize(message.subarray(queryStart, queryStart + size));
  // Old drivers wrapped the command as { $query: {...}, $readPreference }.
  const command = (query.$query as Document | undefined) ?? query;
  return { ...command, $db: namespace.slice(0, namespace.indexOf('.')) };
}

export function encodeReply(request: Request, reply: Document, responseId: number): Buffer {
  const body = serialize(reply);
  if (request.opCode === OP_QUERY) {
    // OP_REPLY: responseFlags, cursorID (int64), startingFrom, numberReturned, documents.
    const header = Buffer.alloc(HEADER_BYTES + 20);
    writeHeader(header, header.length + body.length, responseId, request.requestId, OP_REPLY);
    header.writeInt32LE(0, 16);
    header.writeBigInt64LE(0n, 20);
    header.writeInt32LE(0, 28);
    header.writeInt32LE(1, 32);
    return Buffer.concat([header, body]);
  }
  const header = Buffer.alloc(HEADER_BYTES + 5);
  writeHeader(header, header.length + body.length, responseId, request.requestId, OP_MSG);
  header.writeUInt32LE(0, 16);
  header[20] = 0;
  return Buffer.concat([header, body]);
}

function writeHeader(
  buffer: Buffer,
  length: number,
  requestId: number,
  responseTo: number,
  opCode: number,
) {
  buffer.writeInt32LE(length, 0);
  buffer.writeInt32LE(requestId, 4);
  buffer.writeInt32LE(responseTo, 8);
  buffer.writeInt32LE(opCode, 12);
}
