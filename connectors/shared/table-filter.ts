/** table_include / table_exclude: regular expressions matched against the whole `schema.table`. */
export function tableFilter(include: string[] | undefined, exclude: string[] | undefined): (name: string) => boolean {
  const full = (re: string) => new RegExp('^(?:' + re + ')$');
  const inc = (include ?? []).map(full);
  const exc = (exclude ?? []).map(full);
  return (name) => (!inc.length || inc.some((x) => x.test(name))) && !exc.some((x) => x.test(name));
}
