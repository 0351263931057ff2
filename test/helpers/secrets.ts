/** Passwords that break naive redactors and URL parsers (# @ / : % ? and spaces): none may appear in any output. */
export const NASTY_PASSWORDS = ['s3cr#t', 'p@ss', 'a/b', 'x:y:z', '100%', 'pa ss', 'h#a@s/h:%2 F', '#', '@@', 'q?r'];
