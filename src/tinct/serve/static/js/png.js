// PNG files from canvas pixels, written here because canvas.toBlob always writes RGBA: an opaque
// picture (no transparent pixel) becomes an RGB PNG, as the photo it came from; one with
// transparency stays RGBA. Paeth-filtered rows, zlib from the browser's CompressionStream.

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(bytes, crc = 0xffffffff) {
  for (let i = 0; i < bytes.length; i++) crc = CRC_TABLE[(crc ^ bytes[i]) & 0xff] ^ (crc >>> 8);
  return crc;
}

function chunk(type, data) {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  view.setUint32(8 + data.length, (crc32(out.subarray(4, 8 + data.length)) ^ 0xffffffff) >>> 0);
  return out;
}

export function isOpaque(rgba) {
  for (let i = 3; i < rgba.length; i += 4) if (rgba[i] !== 255) return false;
  return true;
}

// The filtered scanlines: each row a filter byte (4 = Paeth) and its bytes' differences.
function scanlines(rgba, width, height, channels) {
  const stride = width * channels;
  const out = new Uint8Array((stride + 1) * height);
  const row = new Uint8Array(stride), prev = new Uint8Array(stride);
  for (let y = 0; y < height; y++) {
    for (let x = 0, s = y * width * 4; x < width; x++, s += 4) {
      for (let c = 0; c < channels; c++) row[x * channels + c] = rgba[s + c];
    }
    const o = y * (stride + 1);
    out[o] = 4;
    for (let i = 0; i < stride; i++) {
      const a = i >= channels ? row[i - channels] : 0, b = prev[i], c = i >= channels ? prev[i - channels] : 0;
      const p = a + b - c, pa = Math.abs(p - a), pb = Math.abs(p - b), pc = Math.abs(p - c);
      const pred = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      out[o + 1 + i] = (row[i] - pred) & 0xff;
    }
    prev.set(row);
  }
  return out;
}

// A Blob of the ImageData's pixels as a PNG: RGB when every pixel is opaque, else RGBA.
export async function encodePng(imageData) {
  const { width, height, data } = imageData;
  const channels = isOpaque(data) ? 3 : 4;
  const raw = scanlines(data, width, height, channels);
  const zlib = new Uint8Array(await new Response(new Blob([raw]).stream()
    .pipeThrough(new CompressionStream("deflate"))).arrayBuffer());
  const ihdr = new Uint8Array(13);
  const view = new DataView(ihdr.buffer);
  view.setUint32(0, width);
  view.setUint32(4, height);
  ihdr.set([8, channels === 3 ? 2 : 6, 0, 0, 0], 8);  // 8 bits, RGB or RGBA, deflate, no interlace
  const signature = new Uint8Array([137, 80, 78, 71, 13, 10, 26, 10]);
  return new Blob([signature, chunk("IHDR", ihdr), chunk("IDAT", zlib), chunk("IEND", new Uint8Array(0))],
    { type: "image/png" });
}
