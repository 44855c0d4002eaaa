"""Form parts shared by the list pages."""

from flask_wtf import FlaskForm


class FilterForm(FlaskForm):
    """A GET form whose state is the query string: no CSRF, no prefix."""

    class Meta:
        csrf = False

    def valid_data(self):
        """Field values that passed validation; a field with errors is left out."""
        self.validate()
        return {name: field.data for name, field in self._fields.items() if not field.errors}
