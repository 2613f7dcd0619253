class ServiceError(Exception):
    """Something the user asked for cannot be done; the message is translated and shown as it is.
    Views turn it into a form error, the API into a 400 with the same message."""

    def __init__(self, message, *, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
