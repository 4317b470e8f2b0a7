// The home-screen icons, drawn at build time (no binary files in git): a rounded dark
// square with a terminal prompt "›_" in Loopsy's accent colour.
import { deflateSync } from "node:zlib";

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(bytes) {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type, data) {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, "ascii");
  data.copy(out, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

function png(size, pixel) {
  const raw = Buffer.alloc(size * (size * 4 + 1));
  for (let y = 0; y < size; y++) {
    raw[y * (size * 4 + 1)] = 0; // filter: none
    for (let x = 0; x < size; x++) {
      const [r, g, b, a] = pixel(x / size, y / size);
      const at = y * (size * 4 + 1) + 1 + x * 4;
      raw[at] = r;
      raw[at + 1] = g;
      raw[at + 2] = b;
      raw[at + 3] = a;
    }
  }
  const header = Buffer.alloc(13);
  header.writeUInt32BE(size, 0);
  header.writeUInt32BE(size, 4);
  header[8] = 8; // bit depth
  header[9] = 6; // RGBA
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", header),
    chunk("IDAT", deflateSync(raw, { level: 9 })),
    chunk("IEND", Buffer.alloc(0)),
  ]);
}

const BG = [16, 20, 24, 255];
const FG = [240, 198, 116, 255];
const CLEAR = [0, 0, 0, 0];

function distanceToSegment(px, py, ax, ay, bx, by) {
  const dx = bx - ax;
  const dy = by - ay;
  const t = Math.max(0, Math.min(1, ((px - ax) * dx + (py - ay) * dy) / (dx * dx + dy * dy)));
  return Math.hypot(px - ax - t * dx, py - ay - t * dy);
}

/** u, v in 0..1; `inset` shrinks the drawing into the maskable safe zone. */
function glyph(u, v, inset) {
  const s = (t) => (t - 0.5) / (1 - 2 * inset) + 0.5;
  const x = s(u);
  const y = s(v);
  const stroke = 0.055;
  const chevron =
    distanceToSegment(x, y, 0.25, 0.32, 0.45, 0.5) < stroke || distanceToSegment(x, y, 0.45, 0.5, 0.25, 0.68) < stroke;
  const cursor = x > 0.52 && x < 0.77 && y > 0.62 && y < 0.7;
  return chevron || cursor;
}

function roundedSquare(u, v, radius) {
  const cx = Math.min(Math.max(u, radius), 1 - radius);
  const cy = Math.min(Math.max(v, radius), 1 - radius);
  return Math.hypot(u - cx, v - cy) <= radius;
}

export function icons() {
  const any = (size) => png(size, (u, v) => (roundedSquare(u, v, 0.2) ? (glyph(u, v, 0) ? FG : BG) : CLEAR));
  const maskable = (size) => png(size, (u, v) => (glyph(u, v, 0.12) ? FG : BG));
  return {
    "icon-180.png": any(180),
    "icon-192.png": any(192),
    "icon-512.png": any(512),
    "icon-maskable-512.png": maskable(512),
  };
}
