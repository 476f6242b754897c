export { generateDataset, SHARED_IDS, type DatasetOptions, type DemoPerson, type GeneratedDataset, type PatientRecord } from './dataset.js';
