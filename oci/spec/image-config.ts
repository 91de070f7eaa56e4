/** The part of an OCI image config (application/vnd.oci.image.config.v1+json) a container spec draws on. */
export interface ImageConfigJson {
  config?: {
    User?: string;
    Env?: string[];
    Entrypoint?: string[] | null;
    Cmd?: string[] | null;
    WorkingDir?: string;
    StopSignal?: string;
    Labels?: Record<string, string> | null;
  };
}
