export * from './binaries.js';
export * from './process.js';
export * from './probe.js';
export * from './freeze.js';
export * from './ytdlp.js';
export * from './scenes.js';
export * from './frames.js';
export * from './poster.js';
