// The export-card stage lives with export (libs/stages/src/export/card.ts); this entry names it for its app and image.
export { exportCardStage, exportCardParams, renderCard, runFacts, type CardFacts, type ExportCardParams } from '../export/card.js';
export {
  EXPORT_MANIFEST, contentHashes, exportManifestSchema, parseExportManifest, writeExportManifest,
  type ContentHashes, type ExportManifest, type ExportManifestFile,
} from './manifest.js';
