"""Sending OCPP operations from the admin: pick charge boxes in the changelist, choose the operation, fill in its
parameters, see each charger's answer. The form is drawn from the same SteVe parameter serializers the REST API
validates with, and runs through the same service."""

import json

from django import forms
from django.core.exceptions import ValidationError
from django.template.response import TemplateResponse
from rest_framework import serializers

from powerfill.accounts.scoping import scope_to_account

from ..models import ChargeBox
from ..operations import OPERATIONS
from ..services.operations import operation_response, operation_run


class ChooseOperationForm(forms.Form):
    operation = forms.ChoiceField(choices=[(name, name) for name in sorted(OPERATIONS)])


def _form_field(name: str, field: serializers.Field) -> forms.Field:
    options = {"required": field.required, "help_text": field.help_text or "", "label": name}
    if isinstance(field, serializers.ChoiceField):
        choices = list(field.choices.items())
        return forms.ChoiceField(choices=choices if field.required else [("", "—"), *choices], **options)
    if isinstance(field, serializers.BooleanField):
        return forms.BooleanField(**{**options, "required": False})
    if isinstance(field, serializers.IntegerField):
        return forms.IntegerField(min_value=field.min_value, max_value=field.max_value, **options)
    if isinstance(field, serializers.DateTimeField):
        return forms.DateTimeField(widget=forms.DateTimeInput(attrs={"type": "datetime-local"}), **options)
    if isinstance(field, serializers.ListField):
        return forms.CharField(**{**options, "help_text": f"{options['help_text']} Comma separated.".strip()})
    if isinstance(field, serializers.CharField) and (field.max_length or 0) > 1000:
        return forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), **options)
    return forms.CharField(max_length=getattr(field, "max_length", None), **options)


def parameters_form_class(action: str) -> type[forms.Form]:
    serializer_fields = OPERATIONS[action].params().fields
    fields = {name: _form_field(name, field) for name, field in serializer_fields.items() if name != "chargeBoxIdList"}
    return type(f"{action}Form", (forms.Form,), fields)


def steve_params(action: str, cleaned: dict, charge_box_ids: list[str]) -> dict:
    """The form's values as the REST API would receive them."""
    serializer_fields = OPERATIONS[action].params().fields
    params = {"chargeBoxIdList": charge_box_ids}
    for name, value in cleaned.items():
        if value in (None, "") and not isinstance(serializer_fields[name], serializers.BooleanField):
            continue
        if isinstance(serializer_fields[name], serializers.ListField):
            value = [item.strip() for item in value.split(",") if item.strip()]
        elif hasattr(value, "isoformat"):
            value = value.isoformat()
        params[name] = value
    return params


def operations_view(model_admin, request):
    charge_boxes = scope_to_account(ChargeBox.objects.all(), request.user).filter(
        pk__in=[pk for pk in request.GET.get("ids", "").split(",") if pk.isdigit()]
    )
    action = request.GET.get("operation") if request.GET.get("operation") in OPERATIONS else None
    choose = ChooseOperationForm(initial={"operation": action})
    form, outcome = None, None
    if action:
        form_class = parameters_form_class(action)
        form = form_class(request.POST or None)
        if request.method == "POST" and form.is_valid():
            outcome = _run(request, action, form, list(charge_boxes))
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.model._meta,
        "title": f"Send {action}" if action else "Send an OCPP operation",
        "charge_boxes": charge_boxes,
        "ids": request.GET.get("ids", ""),
        "choose_form": choose,
        "form": form,
        "action": action,
        "description": OPERATIONS[action].description if action else "",
        "outcome": outcome,
    }
    return TemplateResponse(request, "admin/ocpp_core/chargebox/operations.html", context)


def _run(request, action, form, charge_boxes) -> dict | None:
    if not charge_boxes:
        form.add_error(None, "Choose charge boxes in the list first.")
        return None
    params = OPERATIONS[action].params(
        data=steve_params(action, form.cleaned_data, [box.charge_box_id for box in charge_boxes])
    )
    if not params.is_valid():
        for name, messages in params.errors.items():
            form.add_error(name if name in form.fields else None, messages)
        return None
    try:
        task = operation_run(
            account=charge_boxes[0].account,
            action=action,
            params=params.validated_data,
            requested_by=request.user.get_username(),
        )
    except ValidationError as error:
        form.add_error(None, error.messages)
        return None
    response = operation_response(task)
    for entry in response["successResponses"]:
        entry["shown"] = (
            entry["response"] if isinstance(entry["response"], str) else json.dumps(entry["response"], indent=1)
        )
    return response
