export {
  checkFilePriorities,
  FILE_PRIORITY_VALUE,
  type FilePriority,
  parseFilePriority,
  piecePriorities,
  selectionBytes,
  selectOnlyPriorities,
} from './file-priorities.js';
export { compileGlob, MAX_GLOB_LENGTH } from './path-glob.js';
export { MAX_SELECT_ITEMS, parseSelectList } from './select-list.js';
