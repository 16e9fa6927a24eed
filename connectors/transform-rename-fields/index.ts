import type { TransformModule } from '../module';
import { eachImage } from '../shared/images';
import { declaration } from './declaration';

export const transformRenameFields = {
  declaration,
  build({ config }) {
    const mappings = (config.mappings ?? {}) as Record<string, string>;
    return {
      apply: (e) => {
        eachImage(e, (row) => {
          for (const [from, to] of Object.entries(mappings))
            if (from in row) {
              row[to] = row[from];
              delete row[from];
            }
        });
        e.columns = e.columns.map((c) => ({ ...c, name: mappings[c.name] ?? c.name }));
        return e;
      },
    };
  },
} satisfies TransformModule;
