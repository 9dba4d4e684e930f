export * from './video.js';
export { startVideoServer, type PageBehaviour, type VideoServer } from '@finevideo/demo';
