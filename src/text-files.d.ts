// Shell scripts imported as text: esbuild's text loader (scripts/build.mjs) bundles their contents as a string.
declare module '*.bash' {
  const text: string;
  export default text;
}
declare module '*.zsh' {
  const text: string;
  export default text;
}
