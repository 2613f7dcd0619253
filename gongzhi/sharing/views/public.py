"""Residents' and organisations' pages: find a resource, see its week, book, check in, cancel, feeds."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.urls import path

from gongzhi.sharing import selectors


@login_required
def booking(request, booking_id: int):
    booking = selectors.access_booking(request.user, booking_id)
    return render(request, "sharing/booking.html", {"booking": booking})


urls = [path("bookings/<int:booking_id>/", booking, name="booking")]
