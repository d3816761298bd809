export declare const inCI: boolean;
export declare const skipOutsideCI: (missing: string | false) => string | false;
