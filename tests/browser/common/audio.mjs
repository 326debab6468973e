// A sound file for Chromium's fake microphone. The built-in fake microphone
// beeps for a few milliseconds once a second, far too little to count as
// speech; a steady tone does (`--use-file-for-fake-audio-capture`, which
// loops the file).

import { writeFile } from 'node:fs/promises';

/**
 * Writes a mono 16-bit 48 kHz WAV file with a sine tone.
 * @param {string} path
 * @param {{seconds?: number, hz?: number, amplitude?: number}} [options]
 *   amplitude 0…1 of full scale (0.3 ≈ −10 dBFS, loud speech)
 */
export async function writeTone(path, { seconds = 2, hz = 440, amplitude = 0.3 } = {}) {
    const rate = 48_000;
    const samples = Math.round(seconds * rate);
    const data = Buffer.alloc(samples * 2);
    for (let i = 0; i < samples; i += 1) {
        data.writeInt16LE(Math.round(Math.sin((2 * Math.PI * hz * i) / rate) * amplitude * 32767), i * 2);
    }
    const header = Buffer.alloc(44);
    header.write('RIFF', 0);
    header.writeUInt32LE(36 + data.length, 4);
    header.write('WAVE', 8);
    header.write('fmt ', 12);
    header.writeUInt32LE(16, 16); // fmt chunk size
    header.writeUInt16LE(1, 20); // PCM
    header.writeUInt16LE(1, 22); // mono
    header.writeUInt32LE(rate, 24);
    header.writeUInt32LE(rate * 2, 28); // bytes per second
    header.writeUInt16LE(2, 32); // bytes per frame
    header.writeUInt16LE(16, 34); // bits per sample
    header.write('data', 36);
    header.writeUInt32LE(data.length, 40);
    await writeFile(path, Buffer.concat([header, data]));
}
