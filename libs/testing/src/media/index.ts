export * from './video.js';
export * from './video-server.js';
