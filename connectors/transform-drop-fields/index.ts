import type { TransformModule } from '../module';
import { eachImage } from '../shared/images';
import { declaration } from './declaration';

export const transformDropFields = {
  declaration,
  build({ config }) {
    const drop = new Set<string>(config.fields ?? []);
    return {
      apply: (e) => {
        eachImage(e, (row) => {
          for (const f of drop) delete row[f];
        });
        // Key columns stay: the destination merges on them.
        e.columns = e.columns.filter((c) => !drop.has(c.name) || c.key);
        return e;
      },
    };
  },
} satisfies TransformModule;
