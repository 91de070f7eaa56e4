// The part of hpack.js (an untyped package) that server/authority-rewriter.ts uses.
declare module 'hpack.js' {
  interface HeaderField {
    name: string;
    value: string;
    neverIndex: boolean;
  }
  interface Decompressor {
    write(block: Buffer): void;
    execute(callback?: (error: Error | null) => void): void;
    read(): HeaderField | null;
  }
  const hpack: {
    decompressor: { create(options: { table: { maxSize: number } }): Decompressor };
  };
  export default hpack;
}
