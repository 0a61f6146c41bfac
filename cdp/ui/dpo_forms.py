"""Forms of the DPO pages (the admin theme's widgets)."""

from django import forms
from django.utils.translation import gettext_lazy as _
from unfold.widgets import UnfoldAdminTextInputWidget

# How the person was designated, kept with the request (SubjectRequest.identified_by).
IDENTIFIED_BY = ("email", "phone", "profile")


class SubjectSearchForm(forms.Form):
    value = forms.CharField(
        label=_("Email or phone number"), max_length=255,
        widget=UnfoldAdminTextInputWidget(attrs={"autofocus": True, "autocomplete": "off"}),
    )

    def kind(self) -> str:
        """An "@" makes it an email; anything else is read as a phone number."""
        return "email" if "@" in self.cleaned_data["value"] else "phone"


class ReasonForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason"), max_length=300,
        help_text=_("Kept in the audit log, e.g. the request reference and its ground."),
        widget=UnfoldAdminTextInputWidget(),
    )
    by = forms.CharField(required=False, widget=forms.HiddenInput)

    def identified_by(self) -> str:
        by = self.cleaned_data.get("by") or ""
        return by if by in IDENTIFIED_BY else "profile"


class RestrictionForm(ReasonForm):
    """What the DPO confirmed (restrict or lift), so that a resubmitted form cannot undo
    it: the state when the page was shown travels with the form."""

    op = forms.ChoiceField(choices=[("restrict", "restrict"), ("lift", "lift")],
                           widget=forms.HiddenInput)


class AccessForm(forms.Form):
    reason = forms.CharField(required=False, max_length=300)
    by = forms.CharField(required=False)

    def identified_by(self) -> str:
        by = self.cleaned_data.get("by") or ""
        return by if by in IDENTIFIED_BY else "profile"
