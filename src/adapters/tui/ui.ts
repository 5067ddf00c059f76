/**
 * What the TUI's screens need from a terminal: dialog's boxes, as an
 * interface, so the screens run against a scripted fake in unit tests and
 * against `dialog` for real. `null` from a box means Cancel or Escape: back.
 */
export interface FormField {
  readonly label: string;
  readonly value: string;
}

export interface Gauge {
  update(percent: number, text: string): void;
  close(): Promise<void>;
}

export interface Ui {
  menu(title: string, text: string, items: readonly (readonly [string, string])[]): Promise<string | null>;
  form(title: string, text: string, fields: readonly FormField[]): Promise<string[] | null>;
  checklist(title: string, text: string, items: readonly (readonly [string, string, boolean])[]): Promise<string[] | null>;
  radiolist(title: string, text: string, items: readonly (readonly [string, string, boolean])[]): Promise<string | null>;
  input(title: string, text: string, value?: string): Promise<string | null>;
  password(title: string, text: string): Promise<string | null>;
  yesno(title: string, text: string): Promise<boolean>;
  message(title: string, text: string): Promise<void>;
  text(title: string, text: string): Promise<void>;
  gauge(title: string, text: string): Gauge;
}
