"""The mailbox adapters: sending over SMTP, reading over IMAP or from a Maildir. No database,
no use case: service/mailboxes.py builds their configs and the mail worker drives them."""
