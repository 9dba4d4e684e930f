import { stringify } from 'yaml';

/** Objects as a multi-document YAML stream for `kubectl apply -f -`. */
export function toYaml(objects: readonly object[]): string {
  return objects.map((o) => `---\n${stringify(o, { lineWidth: 0, aliasDuplicateObjects: false })}`).join('');
}
